"""Names of kernel program and map types, as bpfman shows and accepts them.

Plain tables with no binding behind them, so help texts can be built from
them without loading libbpf.
"""

from __future__ import annotations

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


def kernel_types_named(name: str) -> set[int]:
    """The kernel types a ``--program-type`` value names (none: not a kernel name).

    Hyphens, underscores and case do not matter (``lwt-seg6local`` works too).
    """
    wanted = squash(name)
    return {number for number, known in PROG_TYPE_FILTERS.items() if squash(known) == wanted}


def prog_types_named(name: str) -> set[int]:
    """The kernel types a ``--program-type`` value selects; an unknown name is an error."""
    from bpfman.errors import InvalidInputError

    found = kernel_types_named(name)
    if not found:
        known = ", ".join(PROG_TYPE_FILTERS.values())
        raise InvalidInputError(f"unknown program type {name!r} (possible values: {known})")
    return found


def squash(text: str) -> str:
    """A type name as names are compared: lowercase, without hyphens and underscores."""
    return text.lower().replace("-", "").replace("_", "")


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
