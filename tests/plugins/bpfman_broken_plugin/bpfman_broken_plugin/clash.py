"""A plugin that declares its own type and one bpfman's xdp plugin declares already."""

from __future__ import annotations

from bpfman.plugin import ProgramType, hookimpl, kernel
from bpfman.plugins.tracepoint.handler import Tracepoint


@hookimpl
def bpfman_program_types() -> list[ProgramType]:
    return [
        ProgramType(name, kernel.PROG_TYPE.TRACEPOINT, handler=Tracepoint())
        for name in ("clash", "xdp")
    ]
