"""The kprobe program type; kretprobes are kprobe programs in a ``kretprobe/`` section."""

from __future__ import annotations

from typing import Any

import click

from bpfman.core.context import AttachContext, LinkView, ProgramType
from bpfman.core.hookspecs import hookimpl
from bpfman.core.kernel import PROG_TYPE
from bpfman.core.model import LinkRecord, ProgramRecord

NAME = "kprobe"


@hookimpl
def bpfman_program_types() -> list[ProgramType]:
    return [ProgramType(NAME, PROG_TYPE.KPROBE, section_prefixes=("kprobe", "kretprobe"))]


@hookimpl
def bpfman_attach_commands() -> list[click.Command]:
    from .command import command

    return [command]


@hookimpl
def bpfman_prepare_load(
    program_type: str, function: str, section: str, attach_func: str | None
) -> dict[str, Any] | None:
    if program_type != NAME:
        return None
    return {"retprobe": section.startswith("kretprobe")}


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
    return LinkView(
        str(p["fn_name"]),
        [
            ("Attach Function", str(p["fn_name"])),
            ("Offset", str(p.get("offset", 0))),
            (
                "Container PID",
                "None" if p.get("container_pid") is None else str(p["container_pid"]),
            ),
        ],
        dict(p),
    )
