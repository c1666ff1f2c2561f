"""Attach a raw_tracepoint program by name: BPF_RAW_TRACEPOINT_OPEN gives a bpf_link."""

from __future__ import annotations

from typing import Any

from bpfman.plugin import AttachContext, ProgramType, TypeHandler, kernel, program_types

from .options import RawTracepointParams


class RawTracepoint(TypeHandler[RawTracepointParams]):
    def attach(self, ctx: AttachContext, params: RawTracepointParams) -> dict[str, Any]:
        with (
            ctx.program_fd() as prog,
            kernel.raw_tracepoint_open(prog.fd, params.tracepoint) as link,
        ):
            ctx.pin_link(link)
        return params.to_record()


PROGRAM_TYPE = ProgramType(
    "raw_tracepoint",
    kernel.PROG_TYPE.RAW_TRACEPOINT,
    section_prefixes=("raw_tracepoint", "raw_tp"),
    handler=RawTracepoint(),
    attach_help="Install an eBPF program on a raw tracepoint (no category in its name).",
)
bpfman_program_types = program_types(PROGRAM_TYPE)
