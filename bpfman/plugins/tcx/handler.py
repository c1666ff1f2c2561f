"""Attach with BPF_LINK_CREATE on the TCX hook, placed next to its neighbour.

Detaching needs nothing special: unpinning the link removes it and the
others keep their relative order.
"""

from __future__ import annotations

import errno
import platform
from typing import ClassVar

from bpfman.plugin import KernelError, UnsupportedError, kernel
from bpfman.plugins.multiprog import InterfaceHookHandler, kernel_older_than
from bpfman.plugins.netdev import Device

from .options import TcxParams


class Tcx(InterfaceHookHandler[TcxParams]):
    attach_types: ClassVar[dict[str, int]] = {
        "ingress": kernel.ATTACH_TYPE.TCX_INGRESS,
        "egress": kernel.ATTACH_TYPE.TCX_EGRESS,
    }

    def explain(self, exc: KernelError, device: Device) -> Exception:
        if exc.errno == errno.EINVAL and kernel_older_than(6, 6):
            return UnsupportedError(
                f"tcx is not supported by kernel {platform.release()} (requires >= 6.6)"
            )
        return exc
