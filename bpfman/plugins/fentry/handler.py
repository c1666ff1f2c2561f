"""fentry/fexit: the kernel function is set at load, the link made at attach."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from bpfman.plugin import (
    AttachContext,
    AttachParams,
    LinkView,
    LoadContext,
    ProgramRecord,
    TypeHandler,
    kernel,
)

from .options import FentryParams, FexitParams

if TYPE_CHECKING:
    import click

PARAMS: dict[str, type[AttachParams]] = {"fentry": FentryParams, "fexit": FexitParams}


class Fentry(TypeHandler[AttachParams]):
    params = AttachParams

    def command(self, name: str) -> click.Command:
        from .command import fentry, fexit

        return fentry if name == "fentry" else fexit

    def params_for(self, program: ProgramRecord) -> type[AttachParams]:
        return PARAMS[program.type]

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
