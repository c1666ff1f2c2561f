"""The tracepoint program type: ``attach ID tracepoint -t CATEGORY/NAME``."""

from __future__ import annotations

from bpfman.plugin import ProgramType, hookimpl, kernel


@hookimpl
def bpfman_program_types() -> list[ProgramType]:
    from .handler import Tracepoint

    return [
        ProgramType(
            "tracepoint",
            kernel.PROG_TYPE.TRACEPOINT,
            section_prefixes=("tracepoint", "tp"),
            handler=Tracepoint(),
            attach_help="Install an eBPF program on a Tracepoint.",
            attach_info="tracepoint_attach_info",
        )
    ]
