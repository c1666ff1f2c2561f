"""The uprobe program type; uretprobes are uprobe programs in a ``uretprobe`` section."""

from __future__ import annotations

from typing import Any

import click

from bpfman.core.context import AttachContext, LinkView, ProgramType
from bpfman.core.hookspecs import hookimpl
from bpfman.core.kernel import PROG_TYPE
from bpfman.core.model import LinkRecord, ProgramRecord

NAME = "uprobe"


@hookimpl
def bpfman_program_types() -> list[ProgramType]:
    return [ProgramType(NAME, PROG_TYPE.KPROBE, section_prefixes=("uprobe", "uretprobe"))]


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
    return {"retprobe": section.startswith("uretprobe")}


@hookimpl
def bpfman_attach(program_type: str, ctx: AttachContext) -> dict[str, Any] | None:
    if program_type != NAME:
        return None
    from .attach import attach

    return attach(ctx)


def _opt(value: Any) -> str:
    return "None" if value is None else str(value)


@hookimpl
def bpfman_describe_link(
    program_type: str, link: LinkRecord, program: ProgramRecord, position: int | None
) -> LinkView | None:
    if program_type != NAME:
        return None
    p = link.params
    fn_name = p.get("fn_name")
    attachment = f"{p['target']} {fn_name}" if fn_name else str(p["target"])
    return LinkView(
        attachment,
        [
            ("Target", str(p["target"])),
            ("Attach Function", _opt(fn_name)),
            ("Offset", str(p.get("offset", 0))),
            ("PID", _opt(p.get("pid"))),
            ("Container PID", _opt(p.get("container_pid"))),
        ],
        dict(p),
    )
