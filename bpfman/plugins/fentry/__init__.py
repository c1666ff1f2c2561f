"""The fentry and fexit program types: the target is fixed at load time."""

from __future__ import annotations

from bpfman.plugin import AttachMapping, ProgramType, hookimpl, kernel

# How the gRPC service's AttachInfo reaches these types.
grpc_attach_info = {
    "fentry": AttachMapping("fentry_attach_info"),
    "fexit": AttachMapping("fexit_attach_info"),
}


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
