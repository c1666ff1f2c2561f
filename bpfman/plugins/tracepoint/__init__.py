"""The tracepoint program type: ``attach ID tracepoint -t CATEGORY/NAME``."""

from __future__ import annotations

from typing import Any

import click

from bpfman.core.context import AttachContext, LinkView, ProgramType
from bpfman.core.model import LinkRecord, ProgramRecord
from bpfman.core.typeplugin import TypePlugin
from bpfman.kernel import PROG_TYPE


class Tracepoint(TypePlugin):
    types = (
        ProgramType("tracepoint", PROG_TYPE.TRACEPOINT, section_prefixes=("tracepoint", "tp")),
    )

    def commands(self) -> list[click.Command]:
        from .command import command

        return [command]

    def attach(self, program_type: str, ctx: AttachContext) -> dict[str, Any]:
        from .attach import attach

        return attach(ctx)

    def describe(
        self, program_type: str, link: LinkRecord, program: ProgramRecord, position: int | None
    ) -> LinkView:
        tracepoint = str(link.params["tracepoint"])
        return LinkView(tracepoint, [("Tracepoint", tracepoint)], {"tracepoint": tracepoint})


plugin = Tracepoint()
