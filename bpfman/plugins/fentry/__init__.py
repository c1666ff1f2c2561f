"""The fentry and fexit program types: the target is fixed at load time."""

from __future__ import annotations

from bpfman.plugin import ProgramType, hookimpl, kernel


@hookimpl
def bpfman_program_types() -> list[ProgramType]:
    from .handler import Fentry

    handler = Fentry()
    return [
        ProgramType(
            name,
            kernel.PROG_TYPE.TRACING,
            attach_type,
            needs_attach_func=True,
            section_prefixes=(name,),
            handler=handler,
        )
        for name, attach_type in (
            ("fentry", kernel.ATTACH_TYPE.TRACE_FENTRY),
            ("fexit", kernel.ATTACH_TYPE.TRACE_FEXIT),
        )
    ]
