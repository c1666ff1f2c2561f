"""The uprobe program type; uretprobes are uprobe programs in a ``uretprobe`` section."""

from __future__ import annotations

from typing import Any

import click

from bpfman.core.context import AttachContext, LinkView, ProgramType
from bpfman.core.kernel import PROG_TYPE, BpfObject
from bpfman.core.model import LinkRecord, ProgramRecord
from bpfman.core.typeplugin import TypePlugin


def _opt(value: Any) -> str:
    return "None" if value is None else str(value)


class Uprobe(TypePlugin):
    types = (ProgramType("uprobe", PROG_TYPE.KPROBE, section_prefixes=("uprobe", "uretprobe")),)

    def commands(self) -> list[click.Command]:
        from .command import command

        return [command]

    def prepare_load(
        self, program_type: str, function: str, section: str, obj: BpfObject
    ) -> dict[str, Any]:
        return {"retprobe": section.startswith("uretprobe")}

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
                ("Attach Function", _opt(fn_name)),
                ("Offset", str(p.get("offset", 0))),
                ("PID", _opt(p.get("pid"))),
                ("Container PID", _opt(p.get("container_pid"))),
            ],
            dict(p),
        )


plugin = Uprobe()
