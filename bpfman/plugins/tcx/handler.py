"""Attach with BPF_LINK_CREATE on the TCX hook, placed next to its neighbour.

Detaching needs nothing special: unpinning the link removes it and the
others keep their relative order.
"""

from __future__ import annotations

from typing import ClassVar

from bpfman.plugin import features, kernel
from bpfman.plugins.multiprog import InterfaceHookHandler

from .options import TcxParams


class Tcx(InterfaceHookHandler[TcxParams]):
    attach_types: ClassVar[dict[str, int]] = {
        "ingress": kernel.ATTACH_TYPE.TCX_INGRESS,
        "egress": kernel.ATTACH_TYPE.TCX_EGRESS,
    }
    feature: ClassVar[features.Feature] = features.TCX
