"""lsm: the hook (``bpf_lsm_<hook>`` in the kernel's BTF) is set at load.

Before loading, the kernel's active LSM list is read (when securityfs shows
it): without ``bpf`` in it the kernel would load the program and never run it.
"""

from __future__ import annotations

from bpfman.plugin import LoadContext, UnsupportedError
from bpfman.plugins.btf_target import BtfTargetHandler

from .options import LsmParams

ACTIVE_LSMS = "/sys/kernel/security/lsm"


class Lsm(BtfTargetHandler):
    params = LsmParams
    type_name = "lsm"
    label = "LSM Hook"
    btf_prefix = "bpf_lsm_"
    key = "hook"

    def prepare_load(self, ctx: LoadContext) -> None:
        active = active_lsms()
        if active is not None and "bpf" not in active:
            raise UnsupportedError(
                f"lsm: BPF LSM is not active in this kernel (active: {','.join(active)}); "
                f"boot with lsm={','.join([*active, 'bpf'])}"
            )
        super().prepare_load(ctx)


def active_lsms() -> list[str] | None:
    """The kernel's active LSMs, or None when securityfs does not show them."""
    try:
        with open(ACTIVE_LSMS) as f:
            return [name for name in f.read().strip().split(",") if name]
    except OSError:
        return None
