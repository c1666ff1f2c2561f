"""fentry/fexit: the kernel function is set at load, the link made at attach."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bpfman.plugin import (
    AttachContext,
    AttachParams,
    LinkView,
    LoadContext,
    ProgramType,
    TypeHandler,
    kernel,
    program_types,
)

from .options import FentryParams, FexitParams


class Fentry(TypeHandler[AttachParams]):
    """Serves fentry and fexit alike: one instance per type, with its options class."""

    def __init__(self, params: type[AttachParams]) -> None:
        self.params = params

    def prepare_load(self, ctx: LoadContext) -> None:
        assert ctx.attach_func is not None  # the core insists on TYPE:FUNC:ATTACH_FUNC
        ctx.obj.set_attach_target(ctx.function, ctx.attach_func)
        ctx.keep("attach_func", ctx.attach_func)
        ctx.show("Attach Function", ctx.attach_func)

    def attach(self, ctx: AttachContext, params: AttachParams) -> dict[str, Any]:
        with ctx.program_fd() as prog, kernel.raw_tracepoint_open(prog.fd) as link:
            ctx.pin_link(link)
        return {"fn_name": ctx.program.plugin_data.get("attach_func")}

    def describe(self, recorded: Mapping[str, Any]) -> LinkView:
        fn_name = str(recorded["fn_name"])
        return LinkView(fn_name, [("Attach Function", fn_name)])


PROGRAM_TYPES = [
    ProgramType(
        name,
        kernel.PROG_TYPE.TRACING,
        attach_type,
        needs_attach_func=True,
        section_prefixes=(name,),
        handler=Fentry(params),
        attach_help=f"Install a {name} eBPF probe",
        attach_info=f"{name}_attach_info",
    )
    for name, attach_type, params in (
        ("fentry", kernel.ATTACH_TYPE.TRACE_FENTRY, FentryParams),
        ("fexit", kernel.ATTACH_TYPE.TRACE_FEXIT, FexitParams),
    )
]
bpfman_program_types = program_types(*PROGRAM_TYPES)
