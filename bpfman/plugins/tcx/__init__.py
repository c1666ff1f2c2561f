"""The tcx program type: the kernel orders programs on the hook itself (Linux >= 6.6)."""

from __future__ import annotations

from typing import Any

import click

from bpfman.core.context import AttachContext, LinkView, ProgramType
from bpfman.core.hookspecs import hookimpl
from bpfman.core.kernel import PROG_TYPE
from bpfman.core.model import LinkRecord, ProgramRecord

NAME = "tcx"


@hookimpl
def bpfman_program_types() -> list[ProgramType]:
    return [ProgramType(NAME, PROG_TYPE.SCHED_CLS, section_prefixes=("tcx",))]


@hookimpl
def bpfman_attach_commands() -> list[click.Command]:
    from .command import command

    return [command]


@hookimpl
def bpfman_attach(program_type: str, ctx: AttachContext) -> dict[str, Any] | None:
    if program_type != NAME:
        return None
    from .attach import attach

    return attach(ctx)


@hookimpl
def bpfman_describe_link(
    program_type: str, link: LinkRecord, program: ProgramRecord, position: int | None
) -> LinkView | None:
    if program_type != NAME:
        return None
    p = link.params
    netns = p.get("netns") or "None"
    return LinkView(
        f"{p['iface']} {p['direction']} pos-{position}",
        [
            ("Interface", str(p["iface"])),
            ("Direction", str(p["direction"])),
            ("Priority", str(p["priority"])),
            ("Position", str(position)),
            ("Network Namespace", str(netns)),
        ],
        {**p, "position": position},
    )
