"""lsm: the hook (``bpf_lsm_<hook>`` in the kernel's BTF) is set at load.

Before loading, the kernel is asked whether BPF LSM is active (``features.BPF_LSM``):
without ``bpf`` among its active LSMs it would load the program and never run it.
"""

from __future__ import annotations

from bpfman.plugin import LoadContext, features
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
