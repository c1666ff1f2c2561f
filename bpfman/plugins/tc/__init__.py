"""The tc program type: several programs per interface and direction through a dispatcher."""

from __future__ import annotations

from bpfman.dispatcher import TC
from bpfman.dispatcher.plugin import dispatcher_attach_mapping
from bpfman.plugin import ProgramType, hookimpl, kernel

# How the gRPC service's AttachInfo reaches this type (proceed_on comes as numbers).
grpc_attach_info = {"tc": dispatcher_attach_mapping("tc_attach_info", TC, direction=True)}


@hookimpl
def bpfman_program_types() -> list[ProgramType]:
    from .handler import Tc

    return [
        ProgramType(
            "tc", kernel.PROG_TYPE.SCHED_CLS, section_prefixes=("classifier", "tc"), handler=Tc()
        )
    ]
