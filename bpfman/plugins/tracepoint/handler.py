"""Attach a tracepoint program through a perf event wrapped in a bpf_link."""

from __future__ import annotations

from typing import Any

from bpfman.plugin import AttachContext, TypeHandler, kernel

from .options import TracepointParams, split


class Tracepoint(TypeHandler[TracepointParams]):
    command_module = ".command"

    def attach(self, ctx: AttachContext, params: TracepointParams) -> dict[str, Any]:
        category, name = split(params.tracepoint)
        with (
            ctx.program_fd() as prog,
            kernel.perf_event_tracepoint(category, name) as event,
            kernel.link_create_perf_event(prog.fd, event.fd) as link,
        ):
            ctx.pin_link(link)
        return params.to_record()
