"""Turn libbpf's negative returns and syscall errnos into bpfman errors."""

from __future__ import annotations

from collections.abc import Sequence

from bpfman.errors import KernelError
from bpfman.kernel.lib import binding
from bpfman.kernel.limits import FD_ERRNOS, fd_error

_DETAIL_MESSAGES = 3
# Messages that repeat the errno we already report, or mislead: libbpf 1.1
# blames RLIMIT_MEMLOCK for any EPERM as root, but kernels >= 5.11 charge BPF
# memory to the cgroup instead.
_NOISE = (
    "try raising 'ulimit -l'",
    "BPF program load failed",
    "failed to load: -",
    "failed to load object",
)


def detail(messages: Sequence[str]) -> str:
    """The last few libbpf warnings, prefix stripped, on one line."""
    kept = [
        m.removeprefix("libbpf: ").strip()
        for m in messages
        if m.strip() and not any(noise in m for noise in _NOISE)
    ]
    return "; ".join(kept[-_DETAIL_MESSAGES:])


def check(rc: int, operation: str, messages: Sequence[str] = (), verifier_log: str = "") -> int:
    """Pass a libbpf result through, raising :class:`KernelError` if negative.

    libbpf 1.x returns ``-errno`` directly, so the code is the error. Out of
    file descriptors, libbpf's own words mislead (it blames RLIMIT_MEMLOCK or
    the kernel's BPF support): the limit is named instead.
    """
    if -rc in FD_ERRNOS:
        raise fd_error(operation, -rc)
    if rc < 0:
        raise KernelError(operation, -rc, detail(messages), verifier_log)
    return rc


def check_syscall(rc: int, operation: str) -> int:
    """Pass a raw syscall result through, raising with errno if it failed."""
    if rc < 0:
        err = binding().ffi.errno or 1
        raise fd_error(operation, err) if err in FD_ERRNOS else KernelError(operation, err)
    return rc


def last_errno() -> int:
    """errno of the last foreign call on this thread (for NULL returns)."""
    return int(binding().ffi.errno) or 1
