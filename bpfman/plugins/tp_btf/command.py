"""The ``attach ID tp_btf`` subcommand."""

from __future__ import annotations

from bpfman.plugin import attach_command

from .options import TpBtfParams


@attach_command(
    "tp_btf",
    help="Install an eBPF program on a BTF-enabled tracepoint (tp_btf), chosen at load time.",
)
def command() -> TpBtfParams:
    return TpBtfParams()
