"""tp_btf: the tracepoint (``btf_trace_<name>`` in the kernel's BTF) is set at load."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bpfman.plugins.btf_target import BtfTargetHandler

from .options import TpBtfParams

if TYPE_CHECKING:
    import click


class TpBtf(BtfTargetHandler):
    params = TpBtfParams
    type_name = "tp_btf"
    label = "Tracepoint"
    btf_prefix = "btf_trace_"
    key = "tracepoint"

    def command(self, name: str) -> click.Command:
        from .command import command

        return command
