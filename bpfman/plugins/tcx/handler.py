"""Attach with BPF_LINK_CREATE on the TCX hook, placed next to its neighbour.

Detaching needs nothing special: unpinning the link removes it and the
others keep their relative order.
"""

from __future__ import annotations

from typing import ClassVar

from bpfman.plugin import ProgramType, features, kernel, program_types
from bpfman.plugins.multiprog import InterfaceHookHandler

from .options import TcxParams


class Tcx(InterfaceHookHandler[TcxParams]):
    attach_types: ClassVar[dict[str, int]] = {
        "ingress": kernel.ATTACH_TYPE.TCX_INGRESS,
        "egress": kernel.ATTACH_TYPE.TCX_EGRESS,
    }
    feature: ClassVar[features.Feature] = features.TCX


PROGRAM_TYPE = ProgramType(
    "tcx",
    kernel.PROG_TYPE.SCHED_CLS,
    section_prefixes=("tcx",),
    handler=Tcx(),
    attach_help="Install an eBPF program on the TCX hook point for a given interface "
    "and direction.",
    attach_info="tcx_attach_info",
)
bpfman_program_types = program_types(PROGRAM_TYPE)
