"""fentry/fexit: the kernel function is set at load, the link made at attach."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from bpfman.plugin import (
    AttachContext,
    AttachParams,
    LinkView,
    LoadContext,
    TypeHandler,
    kernel,
)


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
