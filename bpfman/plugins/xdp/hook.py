"""Hooking a program to an interface's XDP hook through a pinned bpf_link.

The first program (a dispatcher, or a lone program on kernels without
freplace) is attached with ``BPF_LINK_CREATE``; later dispatcher revisions
replace it with ``BPF_LINK_UPDATE`` naming the expected old program, which is
atomic: every packet sees either the old chain or the new one. Driver mode is
tried first, then generic (skb) mode once, unless the configuration says
``[xdp] mode = "skb"`` (or per interface: ``[xdp.interfaces] eth0 = "skb"``).
"""

from __future__ import annotations

import contextlib
import errno
from pathlib import Path
from typing import Any

from bpfman import kernel
from bpfman.core.config import load_config
from bpfman.core.context import AttachContext, DetachContext
from bpfman.core.errors import ConflictError, InvalidInputError, KernelError
from bpfman.dispatcher.hook import Installed
from bpfman.plugins.netdev import Device

XDP_FLAGS = {"skb": 1 << 1, "driver": 1 << 2, "hw": 1 << 3}
MODES = ("driver", "skb")  # tried in this order when nothing is configured
ALIASES = {"drv": "driver"}  # the reference bpfman's names: skb, drv, hw


def configured_mode(ctx: AttachContext | DetachContext, iface: str) -> str:
    """The XDP mode the configuration asks for on ``iface`` (default driver).

    ``[xdp.interfaces] IFACE = MODE`` first, then the reference bpfman's
    ``[interfaces.IFACE] xdp_mode = MODE``, then ``[xdp] mode``.
    """
    config = load_config(ctx.layout.root)
    table = config.table("xdp")
    per_iface = table.get("interfaces", {})
    reference = config.table("interfaces").get(iface, {})
    mode = (
        per_iface.get(iface)
        if isinstance(per_iface, dict) and iface in per_iface
        else (reference.get("xdp_mode") if isinstance(reference, dict) else None)
    )
    if mode is None:
        mode = table.get("mode", "driver")
    mode = ALIASES.get(mode, mode) if isinstance(mode, str) else mode
    if mode not in XDP_FLAGS:
        raise InvalidInputError(
            f"{config.path}: xdp mode must be one of driver (drv), skb, hw, got {mode!r}"
        )
    return str(mode)


class XdpHook:
    """The XDP hook of one interface (``device`` None: the interface is gone)."""

    def __init__(
        self, ctx: AttachContext | DetachContext, device: Device | None, mode: str
    ) -> None:
        self.ctx = ctx
        self.device = device
        self.mode = mode

    def install(self, prog_fd: int, previous: Installed | None) -> dict[str, Any]:
        if previous is not None:
            with (
                kernel.obj_get(previous.attach["link_pin"]) as link,
                kernel.obj_get(previous.prog_pin) as old,
            ):
                kernel.link_update(link.fd, prog_fd, old_prog_fd=old.fd)
            return previous.attach
        device = self.device
        assert device is not None
        modes = list(MODES) if self.mode == "driver" else [self.mode]
        for mode in modes:
            try:
                with device.entered():
                    link = kernel.link_create(
                        prog_fd, device.ifindex, kernel.ATTACH_TYPE.XDP, flags=XDP_FLAGS[mode]
                    )
                break
            except KernelError as exc:
                if exc.errno in (errno.EBUSY, errno.EEXIST):
                    raise ConflictError(
                        f"xdp: {device.name} already has an XDP program that bpfman did not "
                        f"attach ({exc}): remove it first"
                    ) from exc
                if mode == modes[-1]:
                    raise
        pin = self.ctx.plugin_dir("xdp") / f"link-{device.netns_inode}-{device.ifindex}"
        with link:
            kernel.obj_pin(link.fd, str(pin))
        self.ctx.on_rollback(lambda: pin.unlink(missing_ok=True))
        return {"link_pin": str(pin), "xdp_mode": mode}

    def remove(self, attach: dict[str, Any]) -> None:
        pin = Path(attach["link_pin"])
        if pin.exists():
            # The interface may have gone and taken the attachment with it.
            with kernel.obj_get(str(pin)) as link, contextlib.suppress(KernelError):
                kernel.link_detach(link.fd)
            pin.unlink()
