"""The xdp program type: several programs per interface through a dispatcher."""

from __future__ import annotations

from bpfman.plugin import ProgramType, hookimpl, kernel


@hookimpl
def bpfman_program_types() -> list[ProgramType]:
    from .handler import Xdp

    return [
        ProgramType(
            "xdp",
            kernel.PROG_TYPE.XDP,
            section_prefixes=("xdp",),
            handler=Xdp(),
            attach_help="Install an eBPF program on the XDP hook point for a given interface.",
            attach_info="xdp_attach_info",
        )
    ]
