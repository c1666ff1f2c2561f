"""The ``demo`` program type: a tracepoint program with its own attach subcommand.

Only bpfman's public plugin contract is used: hookimpls, ProgramType, the
attach context and the kernel binding.
"""

from __future__ import annotations

from typing import Any

import click

from bpfman import kernel
from bpfman.cli.options import attach_command
from bpfman.core.context import AttachContext, LinkView, ProgramType
from bpfman.core.hookspecs import hookimpl
from bpfman.core.model import LinkRecord, ProgramRecord
from bpfman.kernel import PROG_TYPE

NAME = "demo"


@attach_command(NAME, help="Install a demo eBPF program on a Tracepoint")
@click.option("-t", "--tracepoint", required=True, help="Required: CATEGORY/NAME to attach to.")
def command(tracepoint: str) -> dict[str, Any]:
    return {"tracepoint": tracepoint}


@hookimpl
def bpfman_program_types() -> list[ProgramType]:
    return [ProgramType(NAME, PROG_TYPE.TRACEPOINT)]


@hookimpl
def bpfman_attach_commands() -> list[click.Command]:
    return [command]


@hookimpl
def bpfman_attach(program_type: str, ctx: AttachContext) -> dict[str, Any] | None:
    if program_type != NAME:
        return None
    tracepoint = str(ctx.params["tracepoint"])
    category, _, name = tracepoint.partition("/")
    with (
        ctx.program_fd() as prog,
        kernel.perf_event_tracepoint(category, name) as event,
        kernel.link_create_perf_event(prog.fd, event.fd) as link,
    ):
        ctx.pin_link(link)
    return {"tracepoint": tracepoint}


@hookimpl
def bpfman_describe_link(
    program_type: str, link: LinkRecord, program: ProgramRecord, position: int | None
) -> LinkView | None:
    if program_type != NAME:
        return None
    tracepoint = str(link.params["tracepoint"])
    return LinkView(f"demo:{tracepoint}", [("Demo Tracepoint", tracepoint)], dict(link.params))
