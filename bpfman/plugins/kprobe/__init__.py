"""The kprobe program type; kretprobes are kprobe programs in a ``kretprobe/`` section."""

from __future__ import annotations

from bpfman.plugin import AttachMapping, ProgramType, hookimpl, kernel

# How the gRPC service's AttachInfo reaches this type.
grpc_attach_info = {
    "kprobe": AttachMapping("kprobe_attach_info", ("fn_name", "offset", "container_pid"))
}


@hookimpl
def bpfman_program_types() -> list[ProgramType]:
    from .handler import Kprobe

    return [
        ProgramType(
            "kprobe",
            kernel.PROG_TYPE.KPROBE,
            section_prefixes=("kprobe", "kretprobe"),
            section_labels=(("kretprobe", "kretprobe"),),
            handler=Kprobe(),
        )
    ]
