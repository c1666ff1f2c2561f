"""Attach with BPF_LINK_CREATE on a netkit device, placed next to its neighbour.

Both sides of a pair are reached through the primary device's ifindex; the
attach type says which side's chain the link joins. Detaching is unpinning.
"""

from __future__ import annotations

import errno
import platform
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from bpfman.plugin import (
    AttachContext,
    InvalidInputError,
    KernelError,
    LinkView,
    TypeHandler,
    UnsupportedError,
    kernel,
    shown,
)
from bpfman.plugins.multiprog import attach_ordered, kernel_older_than
from bpfman.plugins.netdev import Device, resolve_ifindex

from .options import NetkitParams

if TYPE_CHECKING:
    import click

_ATTACH_TYPES = {
    "primary": kernel.ATTACH_TYPE.NETKIT_PRIMARY,
    "peer": kernel.ATTACH_TYPE.NETKIT_PEER,
}


class Netkit(TypeHandler[NetkitParams]):
    params = NetkitParams

    def command(self, name: str) -> click.Command:
        from .command import command

        return command

    def attach(self, ctx: AttachContext, params: NetkitParams) -> dict[str, Any]:
        device = resolve_ifindex(params.iface, params.netns)
        ctx.hook = f"netkit/{device.key()}/{params.direction}"
        ctx.priority = params.priority
        try:
            attach_ordered(
                ctx, device.ifindex, _ATTACH_TYPES[params.direction], within=device.entered
            )
        except KernelError as exc:
            raise _explain(exc, device) from exc
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


def _explain(exc: KernelError, device: Device) -> Exception:
    iface = device.name
    if exc.errno == errno.ENXIO:
        return _not_netkit(device)
    if exc.errno == errno.EACCES:
        return InvalidInputError(
            f"netkit: {iface} is the peer device of its pair: give the primary device "
            "(with --direction peer for the peer side)"
        )
    if exc.errno == errno.EOPNOTSUPP:
        return UnsupportedError(f"netkit: {iface} has no peer device (a single netkit device)")
    if exc.errno == errno.EINVAL:
        if kernel_older_than(6, 7):
            return UnsupportedError(
                f"netkit is not supported by kernel {platform.release()} (requires >= 6.7)"
            )
        if _link_kind(device) != "netkit":  # without CONFIG_NETKIT: EINVAL for any device
            return _not_netkit(device)
    return exc


def _not_netkit(device: Device) -> InvalidInputError:
    kind = _link_kind(device)
    what = f"a {kind}" if kind else "no link kind"
    return InvalidInputError(f"netkit: {device.name} is not a netkit device ({what})")


def _link_kind(device: Device) -> str | None:
    """The rtnetlink kind of the device (veth, netkit...), None if it has none."""
    from pyroute2 import IPRoute

    with device.entered(), IPRoute() as ipr:
        links = ipr.link("get", index=device.ifindex)
    info = links[0].get_attr("IFLA_LINKINFO") if links else None
    kind = info.get_attr("IFLA_INFO_KIND") if info is not None else None
    return str(kind) if kind else None
