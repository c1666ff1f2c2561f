"""Attach a tracepoint program through a perf event wrapped in a bpf_link."""

from __future__ import annotations

import errno
from typing import Any

from bpfman.plugin import AttachContext, ProgramType, TypeHandler, kernel, program_types
from bpfman.plugins.limits import TRACE_MAX, hook_limit

from .options import TracepointParams, split


class Tracepoint(TypeHandler[TracepointParams]):
    def attach(self, ctx: AttachContext, params: TracepointParams) -> dict[str, Any]:
        category, name = split(params.tracepoint)
        with (
            ctx.program_fd() as prog,
            kernel.perf_event_tracepoint(category, name) as event,
            hook_limit(f"tracepoint {params.tracepoint}", TRACE_MAX, errno.E2BIG),
            kernel.link_create_perf_event(prog.fd, event.fd) as link,
        ):
            ctx.pin_link(link)
        return params.to_record()


PROGRAM_TYPE = ProgramType(
    "tracepoint",
    kernel.PROG_TYPE.TRACEPOINT,
    section_prefixes=("tracepoint", "tp"),
    handler=Tracepoint(),
    attach_help="Install an eBPF program on a Tracepoint.",
    attach_info="tracepoint_attach_info",
)
bpfman_program_types = program_types(PROGRAM_TYPE)
