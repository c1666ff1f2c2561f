"""The tracepoint program type: ``attach ID tracepoint -t CATEGORY/NAME``."""

from __future__ import annotations

from bpfman.plugin import AttachMapping, ProgramType, hookimpl, kernel

# How the gRPC service's AttachInfo reaches this type.
grpc_attach_info = {"tracepoint": AttachMapping("tracepoint_attach_info", ("tracepoint",))}


@hookimpl
def bpfman_program_types() -> list[ProgramType]:
    from .handler import Tracepoint

    return [
        ProgramType(
            "tracepoint",
            kernel.PROG_TYPE.TRACEPOINT,
            section_prefixes=("tracepoint", "tp"),
            handler=Tracepoint(),
        )
    ]
