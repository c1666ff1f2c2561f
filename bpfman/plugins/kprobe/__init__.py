"""The kprobe program type; kretprobes are kprobe programs in a ``kretprobe/`` section."""

from __future__ import annotations

from typing import Any

import click

from bpfman.core.context import AttachContext, LinkView, ProgramType
from bpfman.core.model import LinkRecord, ProgramRecord
from bpfman.kernel import PROG_TYPE
from bpfman.plugins.probe import ProbePlugin, shown


class Kprobe(ProbePlugin):
    retprobe_prefix = "kretprobe"
    types = (ProgramType("kprobe", PROG_TYPE.KPROBE, section_prefixes=("kprobe", "kretprobe")),)

    def commands(self) -> list[click.Command]:
        from .command import command

        return [command]

    def attach(self, program_type: str, ctx: AttachContext) -> dict[str, Any]:
        from .attach import attach

        return attach(ctx)

    def describe(
        self, program_type: str, link: LinkRecord, program: ProgramRecord, position: int | None
    ) -> LinkView:
        p = link.params
        return LinkView(
            str(p["fn_name"]),
            [
                ("Attach Function", str(p["fn_name"])),
                ("Offset", str(p.get("offset", 0))),
                ("Container PID", shown(p.get("container_pid"))),
            ],
            dict(p),
        )


plugin = Kprobe()
