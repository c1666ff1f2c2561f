"""The uprobe program type; uretprobes are uprobe programs in a ``uretprobe`` section."""

from __future__ import annotations

from typing import Any

import click

from bpfman.core.context import AttachContext, LinkView, ProgramType
from bpfman.core.model import LinkRecord, ProgramRecord
from bpfman.kernel import PROG_TYPE
from bpfman.plugins.probe import ProbePlugin, shown


class Uprobe(ProbePlugin):
    retprobe_prefix = "uretprobe"
    types = (ProgramType("uprobe", PROG_TYPE.KPROBE, section_prefixes=("uprobe", "uretprobe")),)

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
        fn_name = p.get("fn_name")
        return LinkView(
            f"{p['target']} {fn_name}" if fn_name else str(p["target"]),
            [
                ("Target", str(p["target"])),
                ("Attach Function", shown(fn_name)),
                ("Offset", str(p.get("offset", 0))),
                ("PID", shown(p.get("pid"))),
                ("Container PID", shown(p.get("container_pid"))),
            ],
            dict(p),
        )


plugin = Uprobe()
