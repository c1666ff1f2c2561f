"""The tcx program type: the kernel orders programs on the hook itself (Linux >= 6.6)."""

from __future__ import annotations

from bpfman.plugin import AttachMapping, ProgramType, default_priority, hookimpl, kernel

# How the gRPC service's AttachInfo reaches this type.
grpc_attach_info = {
    "tcx": AttachMapping(
        "tcx_attach_info", ("direction", "iface", "priority", "netns"), default_priority
    )
}


@hookimpl
def bpfman_program_types() -> list[ProgramType]:
    from .handler import Tcx

    return [
        ProgramType("tcx", kernel.PROG_TYPE.SCHED_CLS, section_prefixes=("tcx",), handler=Tcx())
    ]
