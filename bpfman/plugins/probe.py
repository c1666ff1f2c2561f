"""What the kprobe and uprobe plugins share: a retprobe is a probe whose
program sits in a ``k/uretprobe`` section, recorded at load time."""

from __future__ import annotations

from typing import ClassVar, TypeVar

from bpfman.plugin import AttachParams, LoadContext, TypeHandler

P = TypeVar("P", bound=AttachParams)


class ProbeHandler(TypeHandler[P]):
    retprobe_prefix: ClassVar[str]

    def prepare_load(self, ctx: LoadContext) -> None:
        ctx.keep("retprobe", ctx.section.startswith(self.retprobe_prefix))
