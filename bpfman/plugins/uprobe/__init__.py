"""The uprobe program type; uretprobes are uprobe programs in a ``uretprobe`` section."""

from __future__ import annotations

from bpfman.plugin import AttachMapping, ProgramType, hookimpl, kernel

# How the gRPC service's AttachInfo reaches this type.
grpc_attach_info = {
    "uprobe": AttachMapping(
        "uprobe_attach_info", ("fn_name", "offset", "target", "pid", "container_pid")
    )
}


@hookimpl
def bpfman_program_types() -> list[ProgramType]:
    from .handler import Uprobe

    return [
        ProgramType(
            "uprobe",
            kernel.PROG_TYPE.KPROBE,
            section_prefixes=("uprobe", "uretprobe"),
            section_labels=(("uretprobe", "uretprobe"),),
            handler=Uprobe(),
        )
    ]
