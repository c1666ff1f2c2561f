"""The tp_btf program type: a BTF-enabled tracepoint chosen at load.

``--programs tp_btf:FUNC:TRACEPOINT``, or ``tp_btf:FUNC`` for a program whose
section names it (``tp_btf/sched_switch``); ``attach ID tp_btf`` takes no option.
"""

from __future__ import annotations

from bpfman.plugin import ProgramType, hookimpl, kernel


@hookimpl
def bpfman_program_types() -> list[ProgramType]:
    from .handler import TpBtf

    return [
        ProgramType(
            "tp_btf",
            kernel.PROG_TYPE.TRACING,
            kernel.ATTACH_TYPE.TRACE_RAW_TP,
            optional_attach_func=True,
            section_prefixes=("tp_btf",),
            handler=TpBtf(),
            attach_help="Install an eBPF program on a BTF-enabled tracepoint (tp_btf), "
            "chosen at load time.",
        )
    ]
