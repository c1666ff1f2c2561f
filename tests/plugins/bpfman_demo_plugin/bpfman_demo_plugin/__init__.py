"""The ``demo`` program type: a tracepoint program with its own attach subcommand.

Only bpfman's public plugin module, :mod:`bpfman.plugin`, is used.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import click

from bpfman.plugin import (
    AttachContext,
    AttachParams,
    LinkView,
    ProgramType,
    TypeHandler,
    attach_command,
    hookimpl,
    kernel,
)

NAME = "demo"


@dataclass(frozen=True)
class DemoParams(AttachParams):
    type_name: ClassVar[str] = NAME
    tracepoint: str


@attach_command(NAME, help="Install a demo eBPF program on a Tracepoint")
@click.option("-t", "--tracepoint", required=True, help="Required: CATEGORY/NAME to attach to.")
def command(tracepoint: str) -> DemoParams:
    return DemoParams(tracepoint)


class Demo(TypeHandler[DemoParams]):
    def command(self, name: str) -> click.Command:
        return command

    def attach(self, ctx: AttachContext, params: DemoParams) -> dict[str, Any]:
        category, _, name = params.tracepoint.partition("/")
        with (
            ctx.program_fd() as prog,
            kernel.perf_event_tracepoint(category, name) as event,
            kernel.link_create_perf_event(prog.fd, event.fd) as link,
        ):
            ctx.pin_link(link)  # pinned where the core chose, journaled
        return params.to_record()

    def describe(self, recorded: Mapping[str, Any]) -> LinkView:
        tracepoint = str(recorded["tracepoint"])
        return LinkView(f"demo:{tracepoint}", [("Demo Tracepoint", tracepoint)])


@hookimpl
def bpfman_program_types() -> list[ProgramType]:
    return [ProgramType(NAME, kernel.PROG_TYPE.TRACEPOINT, handler=Demo())]
