"""Raw ``bpf()`` and ``perf_event_open()`` system calls through libc.

Used where libbpf 1.1 lacks the command or the attribute layout (TCX links,
link queries) and for perf events, which libbpf only opens inside its own
attach helpers.
"""

from __future__ import annotations

import os
from typing import Any

from bpfman.errors import UnsupportedError
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
    machine = os.uname().machine
    try:
        return _SYSCALL_NUMBERS[machine]
    except KeyError:
        raise UnsupportedError(f"no bpf() syscall number known for {machine}") from None


def _syscall(number: int, *args: tuple[str, Any]) -> int:
    """``syscall(number, args...)``, each argument cast to its C type; -1 with errno."""
    b = binding()
    casts = [b.ffi.cast(ctype, value) for ctype, value in args]
    return int(b.libc.syscall(b.ffi.cast("long", number), *casts))


def bpf(cmd: int, attr: Any) -> int:
    """``bpf(cmd, attr, sizeof *attr)``; -1 with errno on failure."""
    size = binding().ffi.sizeof(attr[0])
    return _syscall(_numbers()[0], ("long", cmd), ("void *", attr), ("long", size))


def perf_event_open(attr: Any, pid: int, cpu: int, group_fd: int = -1) -> int:
    """``perf_event_open(attr, pid, cpu, group_fd, CLOEXEC)``; -1 with errno on failure."""
    return _syscall(
        _numbers()[1],
        ("void *", attr),
        ("long", pid),
        ("long", cpu),
        ("long", group_fd),
        ("long", PERF_FLAG_FD_CLOEXEC),
    )
