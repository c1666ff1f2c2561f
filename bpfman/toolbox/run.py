"""``run``: a loaded program on test input, as ``bpftool prog run`` does it.

Input comes from files or standard input (``-``). The output packet and
context go to files or, for ``-``, to standard output as a hex dump (text) or
hex strings (JSON), so they never mix with the result line.
"""

from __future__ import annotations

import errno
import sys
from dataclasses import dataclass
from typing import Any

from bpfman import kernel
from bpfman.errors import InvalidInputError, KernelError, NotFoundError, UnsupportedError

STDIO = "-"
# Room for the output packet and context unless told otherwise (bpftool's default).
DEFAULT_SIZE_OUT = 32 * 1024


@dataclass(frozen=True)
class RunRequest:
    """The files and sizes of one test run (``-`` is stdin/stdout)."""

    data_in: str
    data_out: str | None = None
    data_size_out: int | None = None
    ctx_in: str | None = None
    ctx_out: str | None = None
    ctx_size_out: int | None = None
    repeat: int = 1


@dataclass(frozen=True)
class RunResult:
    """A finished run and where its output went."""

    request: RunRequest
    run: kernel.ProgRun

    def text(self) -> str:
        """Hex dumps of stdout-bound output, then bpftool's result line."""
        parts = []
        if self.request.data_out == STDIO:
            parts.append(
                f"Data out ({len(self.run.data_out)} bytes):\n{hexdump(self.run.data_out)}"
            )
        if self.request.ctx_out == STDIO:
            parts.append(
                f"Context out ({len(self.run.ctx_out)} bytes):\n{hexdump(self.run.ctx_out)}"
            )
        parts.append(f"Return value: {self.run.retval}, duration (average): {self.run.duration} ns")
        return "\n".join(parts)

    def json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "retval": self.run.retval,
            "duration_ns": self.run.duration,
            "repeat": self.request.repeat,
            "data_size_out": self.run.data_size_out,
            "ctx_size_out": self.run.ctx_size_out,
        }
        if self.request.data_out == STDIO:
            out["data_out"] = self.run.data_out.hex()
        if self.request.ctx_out == STDIO:
            out["ctx_out"] = self.run.ctx_out.hex()
        return out


def hexdump(data: bytes) -> str:
    """Offset and 16 bytes a line."""
    return "\n".join(f"{at:04x}  {data[at : at + 16].hex(' ')}" for at in range(0, len(data), 16))


def _read(path: str, what: str) -> bytes:
    if path == STDIO:
        return sys.stdin.buffer.read()
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        raise NotFoundError(f"{what} file {path} not found") from None
    except OSError as e:
        raise InvalidInputError(f"cannot read {what} file {path}: {e.strerror}") from None


def write_file(path: str, data: bytes, what: str) -> None:
    """Write command output to ``path``; failures are one-line input errors."""
    try:
        with open(path, "wb") as f:
            f.write(data)
    except OSError as e:
        raise InvalidInputError(f"cannot write {what} file {path}: {e.strerror}") from None


def run_program(prog_id: int, request: RunRequest) -> RunResult:
    """Test-run program ``prog_id`` and write its output where asked."""
    if request.data_in == STDIO and request.ctx_in == STDIO:
        raise InvalidInputError("standard input can feed only one of --data-in and --ctx-in")
    data = _read(request.data_in, "data input")
    ctx = _read(request.ctx_in, "context input") if request.ctx_in is not None else None
    wants_ctx = ctx is not None or request.ctx_out is not None
    with kernel.prog_fd_by_id(prog_id) as fd:
        type_name = kernel.prog_info(fd.fd).type_name
        try:
            run = kernel.test_run(
                fd.fd,
                data,
                request.repeat,
                ctx,
                data_size_out=request.data_size_out or DEFAULT_SIZE_OUT,
                ctx_size_out=(request.ctx_size_out or DEFAULT_SIZE_OUT) if wants_ctx else 0,
            )
        except kernel.ProgRunError as e:
            raise _explain(e, prog_id, type_name) from None
    if request.data_out not in (None, STDIO):
        write_file(request.data_out, run.data_out, "data output")
    if request.ctx_out not in (None, STDIO):
        write_file(request.ctx_out, run.ctx_out, "context output")
    return RunResult(request, run)


def _explain(e: kernel.ProgRunError, prog_id: int, type_name: str) -> Exception:
    """The kernel's refusal as something to act on."""
    if e.no_test_run:
        return UnsupportedError(
            f"program {prog_id} is a {type_name} program, a type the kernel cannot "
            "test-run (BPF_PROG_TEST_RUN)"
        )
    if e.errno == errno.ENOSPC:
        return InvalidInputError(
            f"the output does not fit: the kernel has {e.partial.data_size_out} bytes of "
            f"data and {e.partial.ctx_size_out} of context; raise --data-size-out "
            "or --ctx-size-out"
        )
    if e.errno == errno.EINVAL:
        return KernelError(
            f"test run of {type_name} program {prog_id}",
            e.errno,
            "the kernel refused this input for the program type (packets need at least "
            "an Ethernet header; a context must be the type's context struct)",
        )
    return e
