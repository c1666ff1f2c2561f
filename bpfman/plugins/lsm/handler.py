"""lsm: the hook (``bpf_lsm_<hook>`` in the kernel's BTF) is set at load.

Before loading, the kernel is asked whether BPF LSM is active (``features.BPF_LSM``):
without ``bpf`` among its active LSMs it would load the program and never run it.
"""

from __future__ import annotations

from bpfman.plugin import LoadContext, ProgramType, features, kernel, program_types
from bpfman.plugins.btf_target import BtfTargetHandler

from .options import LsmParams


class Lsm(BtfTargetHandler):
    params = LsmParams
    type_name = "lsm"
    label = "LSM Hook"
    btf_prefix = "bpf_lsm_"
    key = "hook"

    def prepare_load(self, ctx: LoadContext) -> None:
        features.BPF_LSM.require()
        super().prepare_load(ctx)


PROGRAM_TYPE = ProgramType(
    "lsm",
    kernel.PROG_TYPE.LSM,
    kernel.ATTACH_TYPE.LSM_MAC,
    optional_attach_func=True,
    section_prefixes=("lsm", "lsm.s"),
    handler=Lsm(),
    attach_help="Install an eBPF program on a BPF LSM hook, chosen at load time.",
)
bpfman_program_types = program_types(PROGRAM_TYPE)
