"""The tracepoint program type: ``attach ID tracepoint -t CATEGORY/NAME``."""

from __future__ import annotations

from typing import Any

import click

from bpfman.core.context import AttachContext, LinkView, ProgramType
from bpfman.core.hookspecs import hookimpl
from bpfman.core.kernel import PROG_TYPE
from bpfman.core.model import LinkRecord, ProgramRecord

NAME = "tracepoint"


@hookimpl
def bpfman_program_types() -> list[ProgramType]:
    return [ProgramType(NAME, PROG_TYPE.TRACEPOINT, section_prefixes=("tracepoint", "tp"))]


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
    tracepoint = str(link.params["tracepoint"])
    return LinkView(tracepoint, [("Tracepoint", tracepoint)], {"tracepoint": tracepoint})
