"""Attach with BPF_LINK_CREATE on a netkit device, placed next to its neighbour.

Both sides of a pair are reached through the primary device's ifindex; the
attach type says which side's chain the link joins. Detaching is unpinning.
"""

from __future__ import annotations

import errno
from typing import ClassVar

from bpfman.plugin import (
    InvalidInputError,
    KernelError,
    ProgramType,
    UnsupportedError,
    features,
    kernel,
    program_types,
)
from bpfman.plugins.multiprog import InterfaceHookHandler
from bpfman.plugins.netdev import Device

from .options import NetkitParams


class Netkit(InterfaceHookHandler[NetkitParams]):
    attach_types: ClassVar[dict[str, int]] = {
        "primary": kernel.ATTACH_TYPE.NETKIT_PRIMARY,
        "peer": kernel.ATTACH_TYPE.NETKIT_PEER,
    }
    feature: ClassVar[features.Feature] = features.NETKIT

    def explain(self, exc: KernelError, device: Device) -> Exception:
        return _explain(exc, device)


PROGRAM_TYPE = ProgramType(
    "netkit",
    kernel.PROG_TYPE.SCHED_CLS,
    section_prefixes=("netkit",),
    handler=Netkit(),
    attach_help="Install an eBPF program on a netkit device pair, on the primary or the peer side.",
)
bpfman_program_types = program_types(PROGRAM_TYPE)


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
        if not features.NETKIT.supported():
            return features.NETKIT.error()
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
