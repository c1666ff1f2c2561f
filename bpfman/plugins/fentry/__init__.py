"""The fentry and fexit program types: the target is fixed at load time."""

from __future__ import annotations

from typing import Any

import click

from bpfman.core import kernel
from bpfman.core.context import AttachContext, LinkView, ProgramType
from bpfman.core.hookspecs import hookimpl
from bpfman.core.kernel import ATTACH_TYPE, PROG_TYPE
from bpfman.core.model import LinkRecord, ProgramRecord

NAMES = ("fentry", "fexit")


@hookimpl
def bpfman_program_types() -> list[ProgramType]:
    return [
        ProgramType(
            "fentry",
            PROG_TYPE.TRACING,
            ATTACH_TYPE.TRACE_FENTRY,
            needs_attach_func=True,
            section_prefixes=("fentry",),
        ),
        ProgramType(
            "fexit",
            PROG_TYPE.TRACING,
            ATTACH_TYPE.TRACE_FEXIT,
            needs_attach_func=True,
            section_prefixes=("fexit",),
        ),
    ]


@hookimpl
def bpfman_attach_commands() -> list[click.Command]:
    from .command import fentry, fexit

    return [fentry, fexit]


@hookimpl
def bpfman_attach(program_type: str, ctx: AttachContext) -> dict[str, Any] | None:
    if program_type not in NAMES:
        return None
    with ctx.program_fd() as prog, kernel.raw_tracepoint_open(prog.fd) as link:
        ctx.pin_link(link)
    return {"fn_name": ctx.program.attach_func}


@hookimpl
def bpfman_describe_link(
    program_type: str, link: LinkRecord, program: ProgramRecord, position: int | None
) -> LinkView | None:
    if program_type not in NAMES:
        return None
    fn_name = str(program.attach_func)
    return LinkView(fn_name, [("Attach Function", fn_name)], {"fn_name": fn_name})
