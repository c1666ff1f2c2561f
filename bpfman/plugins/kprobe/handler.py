"""Attach kprobes through the kprobe PMU, wrapped in a pinnable bpf_link."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bpfman.plugin import (
    AttachContext,
    InvalidInputError,
    LinkView,
    kernel,
    program_types,
    shown,
)
from bpfman.plugins.probe import ProbeHandler, probe_type

from .options import KprobeParams


class Kprobe(ProbeHandler[KprobeParams]):
    retprobe_prefix = "kretprobe"

    def attach(self, ctx: AttachContext, params: KprobeParams) -> dict[str, Any]:
        retprobe = bool(ctx.program.plugin_data.get("retprobe"))
        if retprobe and params.offset:
            raise InvalidInputError("kprobe: --offset is not allowed for kretprobes")
        with (
            ctx.program_fd() as prog,
            kernel.perf_event_kprobe(params.fn_name, params.offset, retprobe) as event,
            kernel.link_create_perf_event(prog.fd, event.fd) as link,
        ):
            ctx.pin_link(link)
        return {**params.to_record(), "retprobe": retprobe}

    def describe(self, recorded: Mapping[str, Any]) -> LinkView:
        return LinkView(
            str(recorded["fn_name"]),
            [
                ("Attach Function", str(recorded["fn_name"])),
                ("Offset", str(recorded.get("offset", 0))),
                ("Container PID", shown(recorded.get("container_pid"))),
            ],
        )


PROGRAM_TYPE = probe_type("kprobe", Kprobe())
bpfman_program_types = program_types(PROGRAM_TYPE)
