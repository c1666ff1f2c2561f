"""The tc program type: several programs per interface and direction through a dispatcher."""

from __future__ import annotations

from bpfman.plugin import ProgramType, hookimpl, kernel


@hookimpl
def bpfman_program_types() -> list[ProgramType]:
    from .handler import Tc

    return [
        ProgramType(
            "tc",
            kernel.PROG_TYPE.SCHED_CLS,
            section_prefixes=("classifier", "tc"),
            handler=Tc(),
            attach_help="Install an eBPF program on the TC hook point for a given interface.",
            attach_info="tc_attach_info",
        )
    ]
