"""Running the CLI under strace: counting its syscalls, then tampering with one of them.

A command is first traced to count the calls of the syscalls that matter to
a test (kernel changes, LMDB's writes). Then it is run once per call with
that call tampered with (``-e inject=SYSCALL:...:when=N``): killed, failed
with an errno, or interrupted with a signal.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Sequence
from pathlib import Path

from bpfman.core.manager import Bpfman
from tests.helpers.root import BPFMAN, REPO, Root

# How LMDB writes a commit: pages by writev (after an lseek) or pwrite64, the meta page
# by pwrite64.
STORE_WRITES = ("pwrite64", "writev")
_CALL = re.compile(r"^\d+\s+([a-z0-9_]+)\(")


def strace(root: Root, args: Sequence[str], *options: str) -> subprocess.CompletedProcess[str]:
    """``bpfman ARGS`` under ``strace -f`` with ``options``."""
    return strace_python([*BPFMAN, *args], *options, env=root.env)


def strace_python(
    command: Sequence[str], *options: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``command`` (run from the checkout) under ``strace -f`` with ``options``."""
    return subprocess.run(
        ["strace", "-f", "-qq", *options, *command], env=env, cwd=REPO, capture_output=True,
        text=True,
    )  # fmt: skip


def counts(root: Root, args: Sequence[str], syscalls: Sequence[str], trace: Path) -> dict[str, int]:
    """How many times ``bpfman ARGS`` calls each of ``syscalls`` (it must succeed)."""
    proc = strace(root, args, "-o", str(trace), "-e", f"trace={','.join(syscalls)}")
    assert proc.returncode == 0, proc.stderr
    found: dict[str, int] = {}
    for line in trace.read_text().splitlines():
        match = _CALL.match(line)
        if match:
            found[match.group(1)] = found.get(match.group(1), 0) + 1
    return found


def points(count: int, most: int) -> list[int]:
    """Which calls to tamper with: all of them, or ``most`` evenly spread ones."""
    if count <= most:
        return list(range(1, count + 1))
    step = (count - 1) / (most - 1)
    return sorted({1 + round(i * step) for i in range(most)})


def tampered(
    root: Root, args: Sequence[str], syscall: str, n: int, action: str, trace: str = "/dev/null"
) -> subprocess.CompletedProcess[str]:
    """``bpfman ARGS`` with the ``n``-th call of ``syscall`` tampered: ``action`` is
    strace's (``signal=KILL``, ``error=EIO``, ``signal=INT``...).

    A command does not make exactly the same calls every time (LMDB reuses
    pages as it finds them): ``trace`` (strace's output, with the signals it
    delivered) tells whether the call was there to tamper with.
    """
    return strace(
        root, args, "-o", trace, "-e", f"trace={syscall}",
        "-e", f"inject={syscall}:{action}:when={n}",
    )  # fmt: skip


def unload_all(root: Root) -> None:
    """Back to an empty root between two tampered runs (raises if that fails)."""
    with Bpfman(root.path) as mgr:
        for row in mgr.list_programs():
            mgr.unload(row.id)
