"""Running a loaded program on test input (``BPF_PROG_TEST_RUN``)."""

from __future__ import annotations

import errno
from typing import Any, NamedTuple

from bpfman.errors import KernelError
from bpfman.kernel.errcheck import detail
from bpfman.kernel.lib import binding, capture_libbpf_messages

# The kernel's ENOTSUPP (not the user-space ENOTSUP): the type has no test_run.
ENOTSUPP = 524


class ProgRun(NamedTuple):
    """What one ``BPF_PROG_TEST_RUN`` returned.

    ``data_out``/``ctx_out`` hold what fit in the buffers asked for;
    ``data_size_out``/``ctx_size_out`` are the sizes the kernel reported.
    """

    retval: int
    duration: int  # ns per run, averaged over the repeats
    data_out: bytes = b""
    data_size_out: int = 0
    ctx_out: bytes = b""
    ctx_size_out: int = 0


def prog_test_run(
    prog_fd: int, data: bytes, repeat: int = 1, ctx: bytes | None = None
) -> tuple[int, int]:
    """Run the program on ``data``; return (its return value, ns per run)."""
    result = test_run(prog_fd, data, repeat, ctx)
    return result.retval, result.duration


def test_run(
    prog_fd: int,
    data: bytes,
    repeat: int = 1,
    ctx: bytes | None = None,
    *,
    data_size_out: int = 0,
    ctx_size_out: int = 0,
) -> ProgRun:
    """Run the program on ``data`` (and ``ctx``), ``repeat`` times.

    ``data_size_out``/``ctx_size_out`` > 0 ask for the output packet or
    context in buffers of that size. Raises :class:`ProgRunError`, whose
    ``partial`` holds what the kernel filled in (the sizes, when ENOSPC says
    the output did not fit).
    """
    b = binding()
    opts = b.ffi.new("struct bpf_test_run_opts *")
    opts.sz = b.ffi.sizeof("struct bpf_test_run_opts")
    keep: list[Any] = []
    data_in = b.ffi.from_buffer(data)
    keep.append(data_in)
    opts.data_in = data_in
    opts.data_size_in = len(data)
    opts.repeat = repeat
    if ctx is not None:
        ctx_in = b.ffi.from_buffer(ctx)
        keep.append(ctx_in)
        opts.ctx_in = ctx_in
        opts.ctx_size_in = len(ctx)
    data_buf = ctx_buf = None
    if data_size_out:
        data_buf = b.ffi.new("char[]", data_size_out)
        opts.data_out = data_buf
        opts.data_size_out = data_size_out
    if ctx_size_out:
        ctx_buf = b.ffi.new("char[]", ctx_size_out)
        opts.ctx_out = ctx_buf
        opts.ctx_size_out = ctx_size_out
    with capture_libbpf_messages() as messages:
        rc = b.bpf.bpf_prog_test_run_opts(prog_fd, opts)

    def out(buf: Any, reported: int, room: int) -> bytes:
        return b"" if buf is None else bytes(b.ffi.buffer(buf, min(reported, room)))

    result = ProgRun(
        retval=int(opts.retval),
        duration=int(opts.duration),
        data_out=out(data_buf, int(opts.data_size_out), data_size_out),
        data_size_out=int(opts.data_size_out),
        ctx_out=out(ctx_buf, int(opts.ctx_size_out), ctx_size_out),
        ctx_size_out=int(opts.ctx_size_out),
    )
    if rc < 0:
        raise ProgRunError(-rc, detail(messages), result)
    return result


class ProgRunError(KernelError):
    """``BPF_PROG_TEST_RUN`` failed; ``partial`` is what the kernel filled in."""

    def __init__(self, err: int, why: str, partial: ProgRun) -> None:
        super().__init__("prog_test_run", err, why)
        self.partial = partial
        self.no_test_run = err in (ENOTSUPP, errno.EOPNOTSUPP)
