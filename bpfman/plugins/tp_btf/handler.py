"""tp_btf: the tracepoint (``btf_trace_<name>`` in the kernel's BTF) is set at load."""

from __future__ import annotations

from bpfman.plugin import ProgramType, kernel, program_types
from bpfman.plugins.btf_target import BtfTargetHandler

from .options import TpBtfParams


class TpBtf(BtfTargetHandler):
    params = TpBtfParams
    type_name = "tp_btf"
    label = "Tracepoint"
    btf_prefix = "btf_trace_"
    key = "tracepoint"


PROGRAM_TYPE = ProgramType(
    "tp_btf",
    kernel.PROG_TYPE.TRACING,
    kernel.ATTACH_TYPE.TRACE_RAW_TP,
    optional_attach_func=True,
    section_prefixes=("tp_btf",),
    handler=TpBtf(),
    attach_help="Install an eBPF program on a BTF-enabled tracepoint (tp_btf), "
    "chosen at load time.",
)
bpfman_program_types = program_types(PROGRAM_TYPE)
