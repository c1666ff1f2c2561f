"""The netkit program type: programs on a netkit pair, ordered by the kernel (Linux >= 6.7).

``attach ID netkit -i IFACE -d primary|peer -p PRIO [-n NETNS]``: IFACE is the
primary device of the pair; ``peer`` programs run on what the peer sends,
``primary`` ones on what the primary sends. Links are placed by priority as
tcx links are (bpfman/plugins/multiprog.py).
"""

from __future__ import annotations

from bpfman.plugin import ProgramType, hookimpl, kernel


@hookimpl
def bpfman_program_types() -> list[ProgramType]:
    from .handler import Netkit

    return [
        ProgramType(
            "netkit",
            kernel.PROG_TYPE.SCHED_CLS,
            section_prefixes=("netkit",),
            handler=Netkit(),
            attach_help="Install an eBPF program on a netkit device pair, "
            "on the primary or the peer side.",
        )
    ]
