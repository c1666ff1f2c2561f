"""tp_btf: the tracepoint (``btf_trace_<name>`` in the kernel's BTF) is set at load."""

from __future__ import annotations

from bpfman.plugins.btf_target import BtfTargetHandler

from .options import TpBtfParams


class TpBtf(BtfTargetHandler):
    params = TpBtfParams
    type_name = "tp_btf"
    label = "Tracepoint"
    btf_prefix = "btf_trace_"
    key = "tracepoint"
