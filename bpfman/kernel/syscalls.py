"""Raw ``bpf()`` and ``perf_event_open()`` system calls through libc.

Used where libbpf 1.1 lacks the command or the attribute layout (TCX links,
link queries) and for perf events, which libbpf only opens inside its own
attach helpers.
"""

from __future__ import annotations

import platform
from typing import Any

from bpfman.core.errors import UnsupportedError
from bpfman.kernel.lib import binding

# (bpf, perf_event_open) syscall numbers per architecture.
_SYSCALL_NUMBERS: dict[str, tuple[int, int]] = {
    "x86_64": (321, 298),
    "aarch64": (280, 241),
    "riscv64": (280, 241),
    "ppc64le": (361, 319),
    "s390x": (351, 331),
}

BPF_PROG_QUERY = 16
BPF_LINK_CREATE = 28

PERF_FLAG_FD_CLOEXEC = 1 << 3


def _numbers() -> tuple[int, int]:
    machine = platform.machine()
    try:
        return _SYSCALL_NUMBERS[machine]
    except KeyError:
        raise UnsupportedError(f"no bpf() syscall number known for {machine}") from None


def bpf(cmd: int, attr: Any) -> int:
    """``bpf(cmd, attr, sizeof *attr)``; -1 with errno on failure."""
    b = binding()
    size = b.ffi.sizeof(attr[0])
    return int(
        b.libc.syscall(
            b.ffi.cast("long", _numbers()[0]),
            b.ffi.cast("long", cmd),
            b.ffi.cast("void *", attr),
            b.ffi.cast("long", size),
        )
    )


def perf_event_open(attr: Any, pid: int, cpu: int, group_fd: int = -1) -> int:
    """``perf_event_open(attr, pid, cpu, group_fd, CLOEXEC)``; -1 with errno on failure."""
    b = binding()
    return int(
        b.libc.syscall(
            b.ffi.cast("long", _numbers()[1]),
            b.ffi.cast("void *", attr),
            b.ffi.cast("long", pid),
            b.ffi.cast("long", cpu),
            b.ffi.cast("long", group_fd),
            b.ffi.cast("long", PERF_FLAG_FD_CLOEXEC),
        )
    )
