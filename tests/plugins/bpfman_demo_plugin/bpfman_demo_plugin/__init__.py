"""The ``demo`` program type: a tracepoint program under another name.

The plugin guide's example (docs/plugins.md, "The demo plugin"). It imports nothing
of bpfman but :mod:`bpfman.plugin` and declares its one option once; from
that, bpfman serves the type through the CLI (``bpfman attach ID demo -t
CATEGORY/NAME``), the library (``DemoParams`` or ``{"tracepoint": ...}``) and
gRPC (``AttachInfo.tracepoint_attach_info``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from bpfman.plugin import (
    AttachContext,
    AttachParams,
    LinkView,
    ProgramType,
    TypeHandler,
    kernel,
    option,
    program_types,
    validate,
)

NAME = "demo"


@dataclass(frozen=True)
class DemoParams(AttachParams):
    """Where a demo program runs."""

    type_name: ClassVar[str] = NAME
    tracepoint: str = field(
        metadata=option(
            "Required: The tracepoint to attach to, as CATEGORY/NAME.\n"
            "Example: --tracepoint syscalls/sys_enter_getppid",
            short="-t",
        )
    )

    def __post_init__(self) -> None:
        super().__post_init__()  # the declared choices and ranges
        validate.text("demo: tracepoint", self.tracepoint)


class Demo(TypeHandler[DemoParams]):  # the subscript is the options class
    def attach(self, ctx: AttachContext, params: DemoParams) -> dict[str, Any]:
        category, _, name = params.tracepoint.partition("/")
        with (
            ctx.program_fd() as prog,
            kernel.perf_event_tracepoint(category, name) as event,
            kernel.link_create_perf_event(prog.fd, event.fd) as link,
        ):
            ctx.pin_link(link)  # journaled, pinned where the core chose
        return params.to_record()  # recorded, shown as the link's params

    def describe(self, recorded: Mapping[str, Any]) -> LinkView:
        tracepoint = str(recorded["tracepoint"])
        return LinkView(f"demo:{tracepoint}", [("Demo Tracepoint", tracepoint)])


DEMO = ProgramType(
    NAME,
    kernel.PROG_TYPE.TRACEPOINT,
    handler=Demo(),
    attach_help="Install a demo eBPF program on a Tracepoint.",
    attach_info="tracepoint_attach_info",  # its `tracepoint` field is the option
)
bpfman_program_types = program_types(DEMO)  # the plugin's hook: returns [DEMO]
