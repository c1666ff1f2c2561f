"""The fentry and fexit program types: the target is fixed at load time."""

from __future__ import annotations

from typing import Any

import click

from bpfman import kernel
from bpfman.core.context import AttachContext, LinkView, ProgramType
from bpfman.core.model import LinkRecord, ProgramRecord
from bpfman.core.typeplugin import TypePlugin
from bpfman.kernel import ATTACH_TYPE, PROG_TYPE


class Fentry(TypePlugin):
    types = tuple(
        ProgramType(
            name, PROG_TYPE.TRACING, attach, needs_attach_func=True, section_prefixes=(name,)
        )
        for name, attach in (
            ("fentry", ATTACH_TYPE.TRACE_FENTRY),
            ("fexit", ATTACH_TYPE.TRACE_FEXIT),
        )
    )

    def commands(self) -> list[click.Command]:
        from .command import fentry, fexit

        return [fentry, fexit]

    def attach(self, program_type: str, ctx: AttachContext) -> dict[str, Any]:
        with ctx.program_fd() as prog, kernel.raw_tracepoint_open(prog.fd) as link:
            ctx.pin_link(link)
        return {"fn_name": ctx.program.attach_func}

    def describe(
        self, program_type: str, link: LinkRecord, program: ProgramRecord, position: int | None
    ) -> LinkView:
        fn_name = str(program.attach_func)
        return LinkView(fn_name, [("Attach Function", fn_name)], {"fn_name": fn_name})


plugin = Fentry()
