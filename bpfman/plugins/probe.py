"""What the kprobe and uprobe plugins share: a retprobe is a probe whose
program sits in a ``k/uretprobe`` section, recorded at load time, and both
types are declared alike."""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

from bpfman.plugin import AttachParams, LoadContext, ProgramType, TypeHandler, kernel

P = TypeVar("P", bound=AttachParams)


class ProbeHandler(TypeHandler[P]):
    retprobe_prefix: ClassVar[str]

    def prepare_load(self, ctx: LoadContext) -> None:
        ctx.keep("retprobe", ctx.section.startswith(self.retprobe_prefix))


def probe_type(name: str, handler: ProbeHandler[Any]) -> ProgramType:
    """The probe type ``name``: its programs sit in ``name`` or retprobe sections (which
    images label as retprobes), and gRPC reaches it through ``<name>_attach_info``."""
    retprobe = handler.retprobe_prefix
    return ProgramType(
        name,
        kernel.PROG_TYPE.KPROBE,
        section_prefixes=(name, retprobe),
        section_labels=((retprobe, retprobe),),
        handler=handler,
        attach_help=f"Install a {name} or {retprobe} eBPF probe",
        attach_info=f"{name}_attach_info",
    )
