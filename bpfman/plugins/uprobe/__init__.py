"""The uprobe program type; uretprobes are uprobe programs in a ``uretprobe`` section."""

from __future__ import annotations

from bpfman.plugin import ProgramType, hookimpl, kernel


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
            attach_help="Install a uprobe or uretprobe eBPF probe",
            attach_info="uprobe_attach_info",
        )
    ]
