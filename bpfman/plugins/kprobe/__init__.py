"""The kprobe program type; kretprobes are kprobe programs in a ``kretprobe/`` section."""

from __future__ import annotations

from bpfman.plugin import ProgramType, hookimpl, kernel


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
            attach_help="Install a kprobe or kretprobe eBPF probe",
            attach_info="kprobe_attach_info",
        )
    ]
