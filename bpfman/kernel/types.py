"""The kernel's program type numbers (its UAPI, ``linux/bpf.h``).

Complete, so a plugin names any type without a raw number: the values are the
kernel's own (``/usr/include/linux/bpf.h`` of Linux 6.1, and the newer ones from
the BTF of Linux 6.18); tests/unit/test_kernel_types.py checks them against the
BTF of the running kernel. The attach and link types are in
:mod:`bpfman.kernel.attach_types`: every plugin names its program type when it
is imported, by each ``load``, and an enum costs that import as many members as
it has.
"""

from __future__ import annotations

import enum


class PROG_TYPE(enum.IntEnum):
    """``enum bpf_prog_type``: every program type up to Linux 6.18."""

    UNSPEC = 0
    SOCKET_FILTER = 1
    KPROBE = 2
    SCHED_CLS = 3
    SCHED_ACT = 4
    TRACEPOINT = 5
    XDP = 6
    PERF_EVENT = 7
    CGROUP_SKB = 8
    CGROUP_SOCK = 9
    LWT_IN = 10
    LWT_OUT = 11
    LWT_XMIT = 12
    SOCK_OPS = 13
    SK_SKB = 14
    CGROUP_DEVICE = 15
    SK_MSG = 16
    RAW_TRACEPOINT = 17
    CGROUP_SOCK_ADDR = 18
    LWT_SEG6LOCAL = 19
    LIRC_MODE2 = 20
    SK_REUSEPORT = 21
    FLOW_DISSECTOR = 22
    CGROUP_SYSCTL = 23
    RAW_TRACEPOINT_WRITABLE = 24
    CGROUP_SOCKOPT = 25
    TRACING = 26
    STRUCT_OPS = 27
    EXT = 28
    LSM = 29
    SK_LOOKUP = 30
    SYSCALL = 31
    NETFILTER = 32
