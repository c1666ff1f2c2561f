"""The tcx program type: the kernel orders programs on the hook itself (Linux >= 6.6)."""

from __future__ import annotations

from bpfman.plugin import ProgramType, hookimpl, kernel


@hookimpl
def bpfman_program_types() -> list[ProgramType]:
    from .handler import Tcx

    return [
        ProgramType(
            "tcx",
            kernel.PROG_TYPE.SCHED_CLS,
            section_prefixes=("tcx",),
            handler=Tcx(),
            attach_help="Install an eBPF program on the TCX hook point for a given interface "
            "and direction.",
            attach_info="tcx_attach_info",
        )
    ]
