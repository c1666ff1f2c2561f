"""Attach with BPF_LINK_CREATE on the TCX hook, placed next to its neighbour.

Detaching needs nothing special: unpinning the link removes it and the
others keep their relative order.
"""

from __future__ import annotations

import errno
import platform
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from bpfman.plugin import (
    AttachContext,
    KernelError,
    LinkView,
    TypeHandler,
    UnsupportedError,
    kernel,
    shown,
)
from bpfman.plugins.multiprog import attach_ordered, kernel_older_than
from bpfman.plugins.netdev import resolve_ifindex

from .options import TcxParams

if TYPE_CHECKING:
    import click

_ATTACH_TYPES = {"ingress": kernel.ATTACH_TYPE.TCX_INGRESS, "egress": kernel.ATTACH_TYPE.TCX_EGRESS}


class Tcx(TypeHandler[TcxParams]):
    params = TcxParams

    def command(self, name: str) -> click.Command:
        from .command import command

        return command

    def attach(self, ctx: AttachContext, params: TcxParams) -> dict[str, Any]:
        device = resolve_ifindex(params.iface, params.netns)
        ctx.hook = f"tcx/{device.key()}/{params.direction}"
        ctx.priority = params.priority
        try:
            attach_ordered(
                ctx, device.ifindex, _ATTACH_TYPES[params.direction], within=device.entered
            )
        except KernelError as exc:
            raise _explain(exc) from exc
        return params.to_record()

    def describe(self, recorded: Mapping[str, Any]) -> LinkView:
        return LinkView(
            f"{recorded['iface']} {recorded['direction']}",
            [
                ("Interface", str(recorded["iface"])),
                ("Direction", str(recorded["direction"])),
                ("Priority", str(recorded["priority"])),
                ("Network Namespace", shown(recorded.get("netns"))),
            ],
        )


def _explain(exc: KernelError) -> Exception:
    if exc.errno == errno.EINVAL and kernel_older_than(6, 6):
        return UnsupportedError(
            f"tcx is not supported by kernel {platform.release()} (requires >= 6.6)"
        )
    return exc
