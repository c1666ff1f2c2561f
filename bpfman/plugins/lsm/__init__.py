"""The lsm program type: a BPF LSM hook chosen at load.

``--programs lsm:FUNC:HOOK``, or ``lsm:FUNC`` for a program whose section names
the hook (``lsm/file_open``); ``attach ID lsm`` takes no option. The kernel
needs CONFIG_BPF_LSM and ``bpf`` in its active LSM list (``lsm=...,bpf``).
"""

from __future__ import annotations

from bpfman.plugin import ProgramType, hookimpl, kernel


@hookimpl
def bpfman_program_types() -> list[ProgramType]:
    from .handler import Lsm

    return [
        ProgramType(
            "lsm",
            kernel.PROG_TYPE.LSM,
            kernel.ATTACH_TYPE.LSM_MAC,
            optional_attach_func=True,
            section_prefixes=("lsm", "lsm.s"),
            handler=Lsm(),
            attach_help="Install an eBPF program on a BPF LSM hook, chosen at load time.",
        )
    ]
