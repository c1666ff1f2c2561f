"""The xdp program type: several programs per interface through a dispatcher."""

from __future__ import annotations

from bpfman.dispatcher import XDP
from bpfman.dispatcher.plugin import dispatcher_attach_mapping
from bpfman.plugin import ProgramType, hookimpl, kernel

# How the gRPC service's AttachInfo reaches this type (proceed_on comes as numbers).
grpc_attach_info = {"xdp": dispatcher_attach_mapping("xdp_attach_info", XDP, direction=False)}


@hookimpl
def bpfman_program_types() -> list[ProgramType]:
    from .handler import Xdp

    return [ProgramType("xdp", kernel.PROG_TYPE.XDP, section_prefixes=("xdp",), handler=Xdp())]
