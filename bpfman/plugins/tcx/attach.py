"""Attach with BPF_LINK_CREATE on the TCX hook, placed next to its neighbour.

The kernel keeps the order; bpfman only decides where the new link goes: just
before the first link that runs after it, or after the last one. Detaching
needs nothing special: unpinning the link removes it and the others keep
their relative order.
"""

from __future__ import annotations

import errno
import platform
from typing import Any

from bpfman import kernel
from bpfman.core.context import AttachContext
from bpfman.core.errors import InvalidInputError, KernelError, UnsupportedError
from bpfman.plugins.netdev import resolve_ifindex

_ATTACH_TYPES = {"ingress": kernel.ATTACH_TYPE.TCX_INGRESS, "egress": kernel.ATTACH_TYPE.TCX_EGRESS}


def attach(ctx: AttachContext) -> dict[str, Any]:
    direction = str(ctx.params["direction"])
    if direction not in _ATTACH_TYPES:
        raise InvalidInputError(f"tcx: invalid direction {direction!r}: use ingress or egress")
    priority = int(ctx.params["priority"])
    if not 1 <= priority <= 1000:
        raise InvalidInputError(f"tcx: priority {priority} is out of range 1-1000")
    iface = str(ctx.params["iface"])
    netns = ctx.params.get("netns")
    device = resolve_ifindex(iface, netns)
    params = {"direction": direction, "iface": iface, "priority": priority, "netns": netns}

    ctx.hook = f"tcx/{device.netns_inode}/{device.ifindex}/{direction}"
    ctx.priority = priority
    new = ctx.pending_link(params)
    ordered = sorted([*ctx.hook_links(ctx.hook), new], key=lambda link: link.order_key)
    at = ordered.index(new)
    flags, neighbour = 0, None
    if at + 1 < len(ordered):
        flags, neighbour = kernel.BPF_F_BEFORE | kernel.BPF_F_LINK, ordered[at + 1]
    elif at > 0:
        flags, neighbour = kernel.BPF_F_AFTER | kernel.BPF_F_LINK, ordered[at - 1]

    with ctx.program_fd() as prog:
        relative = kernel.obj_get(str(neighbour.pin)) if neighbour and neighbour.pin else None
        try:
            with device.entered():
                link = kernel.link_create(
                    prog.fd,
                    device.ifindex,
                    _ATTACH_TYPES[direction],
                    flags=flags if relative else 0,
                    relative_fd=relative.fd if relative else 0,
                )
        except KernelError as exc:
            raise _explain(exc) from exc
        finally:
            if relative is not None:
                relative.close()
        with link:
            ctx.pin_link(link)
    return params


def _explain(exc: KernelError) -> Exception:
    release = platform.release().split("-")[0].split(".")
    try:
        too_old = (int(release[0]), int(release[1])) < (6, 6)
    except (IndexError, ValueError):
        too_old = False
    if too_old and exc.errno == errno.EINVAL:
        return UnsupportedError(
            f"tcx is not supported by kernel {platform.release()} (requires >= 6.6)"
        )
    return exc
