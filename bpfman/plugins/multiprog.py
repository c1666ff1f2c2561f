"""Placing a link on a kernel-ordered multi-program hook (tcx, netkit).

The kernel keeps the order of the programs on such a hook; bpfman only
decides where a new link goes: just before the first recorded link that runs
after it (by priority, then attach order), or after the last one that runs
before it. A neighbour whose pin cannot be opened (removed behind bpfman's
back) is passed over, so a ghost never misplaces a link.
"""

from __future__ import annotations

from bpfman.plugin import AttachContext, NotFoundError, kernel
from bpfman.plugins.netdev import Device


def attach_ordered(ctx: AttachContext, device: Device, attach_type: int) -> None:
    """Create the program's link on ``ctx.hook`` at its place, and pin it."""
    assert ctx.hook is not None
    new = ctx.pending_link()
    ordered = sorted([*ctx.hook_links(ctx.hook), new], key=lambda link: link.order_key)
    at = ordered.index(new)
    candidates = [(kernel.BPF_F_BEFORE, link) for link in ordered[at + 1 :]]
    candidates += [(kernel.BPF_F_AFTER, link) for link in reversed(ordered[:at])]
    with ctx.program_fd() as prog:
        relative, flags = None, 0
        for flag, neighbour in candidates:
            if not neighbour.pin:
                continue
            try:
                relative, flags = kernel.obj_get(neighbour.pin), flag | kernel.BPF_F_LINK
                break
            except NotFoundError:
                continue
        try:
            with device.entered():
                link = kernel.link_create(
                    prog.fd,
                    device.ifindex,
                    attach_type,
                    flags=flags,
                    relative_fd=relative.fd if relative else 0,
                )
        finally:
            if relative is not None:
                relative.close()
        with link:
            ctx.pin_link(link)
