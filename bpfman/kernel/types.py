"""Kernel program, attach and map type numbers, and their bpfman names."""

from __future__ import annotations

import enum

from bpfman.kernel.errcheck import check
from bpfman.kernel.lib import binding


class PROG_TYPE(enum.IntEnum):
    """``enum bpf_prog_type`` values bpfman uses."""

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
    CGROUP_DEVICE = 15
    RAW_TRACEPOINT = 17
    CGROUP_SOCK_ADDR = 18
    CGROUP_SYSCTL = 23
    CGROUP_SOCKOPT = 25
    TRACING = 26
    EXT = 28
    LSM = 29


class ATTACH_TYPE(enum.IntEnum):
    """``enum bpf_attach_type`` values bpfman uses."""

    CGROUP_INET_INGRESS = 0
    CGROUP_INET_EGRESS = 1
    CGROUP_INET_SOCK_CREATE = 2
    CGROUP_DEVICE = 6
    CGROUP_INET4_BIND = 8
    CGROUP_INET6_BIND = 9
    CGROUP_INET4_CONNECT = 10
    CGROUP_INET6_CONNECT = 11
    CGROUP_INET4_POST_BIND = 12
    CGROUP_INET6_POST_BIND = 13
    CGROUP_UDP4_SENDMSG = 14
    CGROUP_UDP6_SENDMSG = 15
    CGROUP_SYSCTL = 18
    CGROUP_UDP4_RECVMSG = 19
    CGROUP_UDP6_RECVMSG = 20
    CGROUP_GETSOCKOPT = 21
    CGROUP_SETSOCKOPT = 22
    TRACE_RAW_TP = 23
    TRACE_FENTRY = 24
    TRACE_FEXIT = 25
    LSM_MAC = 27
    CGROUP_INET4_GETPEERNAME = 29
    CGROUP_INET6_GETPEERNAME = 30
    CGROUP_INET4_GETSOCKNAME = 31
    CGROUP_INET6_GETSOCKNAME = 32
    CGROUP_INET_SOCK_RELEASE = 34
    XDP = 37
    PERF_EVENT = 41
    TCX_INGRESS = 46
    TCX_EGRESS = 47
    CGROUP_UNIX_CONNECT = 49
    CGROUP_UNIX_SENDMSG = 50
    CGROUP_UNIX_RECVMSG = 51
    CGROUP_UNIX_GETPEERNAME = 52
    CGROUP_UNIX_GETSOCKNAME = 53
    NETKIT_PRIMARY = 54
    NETKIT_PEER = 55


class LINK_TYPE(enum.IntEnum):
    """``enum bpf_link_type``, as reported by :func:`link_info`."""

    UNSPEC = 0
    RAW_TRACEPOINT = 1
    TRACING = 2
    CGROUP = 3
    ITER = 4
    NETNS = 5
    XDP = 6
    PERF_EVENT = 7
    KPROBE_MULTI = 8
    STRUCT_OPS = 9
    NETFILTER = 10
    TCX = 11
    UPROBE_MULTI = 12
    NETKIT = 13


# Flags of BPF_LINK_CREATE / BPF_PROG_ATTACH for multi-program hooks (TCX, netkit,
# cgroups since Linux 6.16).
BPF_F_REPLACE = 1 << 2
BPF_F_BEFORE = 1 << 3
BPF_F_AFTER = 1 << 4
BPF_F_ID = 1 << 5
BPF_F_LINK = 1 << 13

# Kernel program type -> the name bpfman shows (kprobe-typed programs are "probe",
# sched_cls is "tc").
KERNEL_PROG_TYPES: dict[int, str] = {
    0: "unspec",
    1: "socket_filter",
    2: "probe",
    3: "tc",
    4: "sched_act",
    5: "tracepoint",
    6: "xdp",
    7: "perf_event",
    8: "cgroup_skb",
    9: "cgroup_sock",
    10: "lwt_in",
    11: "lwt_out",
    12: "lwt_xmit",
    13: "sock_ops",
    14: "sk_skb",
    15: "cgroup_device",
    16: "sk_msg",
    17: "raw_tracepoint",
    18: "cgroup_sock_addr",
    19: "lwt_seg6local",
    20: "lirc_mode2",
    21: "sk_reuseport",
    22: "flow_dissector",
    23: "cgroup_sysctl",
    24: "raw_tracepoint_writable",
    25: "cgroup_sockopt",
    26: "tracing",
    27: "struct_ops",
    28: "ext",
    29: "lsm",
    30: "sk_lookup",
    31: "syscall",
    32: "netfilter",
}

# Kernel program type -> its name for ``list --program-type``, spelled as the
# reference CLI spells it; the help and the accepted values both come from here.
PROG_TYPE_FILTERS: dict[int, str] = {
    number: name.replace("_", "-") for number, name in KERNEL_PROG_TYPES.items()
} | {19: "lwt-seg6-local"}


def prog_types_named(name: str) -> set[int] | None:
    """The kernel types a ``--program-type`` value selects (None: no such name).

    Hyphens, underscores and case do not matter (``lwt-seg6local`` works too).
    """

    def squash(text: str) -> str:
        return text.lower().replace("-", "").replace("_", "")

    wanted = squash(name)
    found = {number for number, known in PROG_TYPE_FILTERS.items() if squash(known) == wanted}
    return found or None


# Kernel map type -> name as in bytecode image labels (``io.ebpf.maps``): the
# kernel's BPF_MAP_TYPE_* suffix in lowercase, "percpu" spelled "per_cpu".
KERNEL_MAP_TYPES: dict[int, str] = {
    0: "unspec",
    1: "hash",
    2: "array",
    3: "prog_array",
    4: "perf_event_array",
    5: "per_cpu_hash",
    6: "per_cpu_array",
    7: "stack_trace",
    8: "cgroup_array",
    9: "lru_hash",
    10: "lru_per_cpu_hash",
    11: "lpm_trie",
    12: "array_of_maps",
    13: "hash_of_maps",
    14: "devmap",
    15: "sockmap",
    16: "cpumap",
    17: "xskmap",
    18: "sockhash",
    19: "cgroup_storage",
    20: "reuseport_sockarray",
    21: "per_cpu_cgroup_storage",
    22: "queue",
    23: "stack",
    24: "sk_storage",
    25: "devmap_hash",
    26: "struct_ops",
    27: "ringbuf",
    28: "inode_storage",
    29: "task_storage",
    30: "bloom_filter",
    31: "user_ringbuf",
    32: "cgrp_storage",
    33: "arena",
}


def prog_type_name(prog_type: int) -> str:
    """bpfman's name of a kernel program type, numeric if unknown."""
    return KERNEL_PROG_TYPES.get(prog_type, str(prog_type))


def map_type_name(map_type: int) -> str:
    """The label name of a kernel map type, numeric if unknown."""
    return KERNEL_MAP_TYPES.get(map_type, str(map_type))


def probe_prog_type(prog_type: int) -> bool:
    """Whether this kernel loads programs of ``prog_type`` (loads a trivial one)."""
    rc = binding().bpf.libbpf_probe_bpf_prog_type(prog_type, binding().ffi.NULL)
    return check(rc, f"probe program type {prog_type_name(prog_type)}") == 1
