"""The cgroup program type: one bpfman type for the cgroup family.

cgroup_skb, cgroup_sock, cgroup_sock_addr, cgroup_sockopt, cgroup_sysctl and
cgroup_device programs are all ``cgroup``; the kernel program type and the
attach type come from the ELF section as libbpf names them
(``cgroup_skb/egress``, ``cgroup/connect4``, ``cgroup/dev``...).
``attach ID cgroup -c CGROUP_PATH [-p PRIO]`` attaches on cgroup v2.
"""

from __future__ import annotations

from bpfman.plugin import ProgramType, hookimpl, kernel


@hookimpl
def bpfman_program_types() -> list[ProgramType]:
    from .handler import Cgroup

    return [
        ProgramType(
            "cgroup",
            # The family's first member; each program is loaded as the member its
            # section names (LoadContext.set_type), and recorded so.
            kernel.PROG_TYPE.CGROUP_SKB,
            section_prefixes=("cgroup_skb", "cgroup"),
            handler=Cgroup(),
            attach_help="Install an eBPF program on a cgroup v2 hook; "
            "the attach type comes from its section.",
        )
    ]
