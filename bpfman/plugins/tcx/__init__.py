"""The tcx program type: the kernel orders programs on the hook itself (Linux >= 6.6)."""

from __future__ import annotations

from typing import Any

import click

from bpfman.core.context import AttachContext, LinkView, ProgramType
from bpfman.core.model import LinkRecord, ProgramRecord
from bpfman.core.typeplugin import TypePlugin
from bpfman.kernel import PROG_TYPE


class Tcx(TypePlugin):
    types = (ProgramType("tcx", PROG_TYPE.SCHED_CLS, section_prefixes=("tcx",)),)

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
            f"{p['iface']} {p['direction']} pos-{position}",
            [
                ("Interface", str(p["iface"])),
                ("Direction", str(p["direction"])),
                ("Priority", str(p["priority"])),
                ("Position", str(position)),
                ("Network Namespace", str(p.get("netns") or "None")),
            ],
            {**p, "position": position},
        )


plugin = Tcx()
