"""The raw_tracepoint program type: ``attach ID raw_tracepoint -t NAME``."""

from __future__ import annotations

from bpfman.plugin import ProgramType, hookimpl, kernel


@hookimpl
def bpfman_program_types() -> list[ProgramType]:
    from .handler import RawTracepoint

    return [
        ProgramType(
            "raw_tracepoint",
            kernel.PROG_TYPE.RAW_TRACEPOINT,
            section_prefixes=("raw_tracepoint", "raw_tp"),
            handler=RawTracepoint(),
            attach_help="Install an eBPF program on a raw tracepoint (no category in its name).",
        )
    ]
