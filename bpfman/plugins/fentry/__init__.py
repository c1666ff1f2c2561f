"""The fentry and fexit program types: the target is fixed at load time."""

from __future__ import annotations

from bpfman.plugin import ProgramType, hookimpl, kernel


@hookimpl
def bpfman_program_types() -> list[ProgramType]:
    from .handler import Fentry
    from .options import FentryParams, FexitParams

    return [
        ProgramType(
            name,
            kernel.PROG_TYPE.TRACING,
            attach_type,
            needs_attach_func=True,
            section_prefixes=(name,),
            handler=Fentry(params),
            attach_help=f"Install a {name} eBPF probe",
            attach_info=f"{name}_attach_info",
        )
        for name, attach_type, params in (
            ("fentry", kernel.ATTACH_TYPE.TRACE_FENTRY, FentryParams),
            ("fexit", kernel.ATTACH_TYPE.TRACE_FEXIT, FexitParams),
        )
    ]
