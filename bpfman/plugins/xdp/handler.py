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
import os
from collections.abc import Mapping
from typing import Any

from bpfman.dispatcher import XDP
from bpfman.dispatcher.plugin import DispatcherHandler, FoundHook
from bpfman.dispatcher.revisions import Context
from bpfman.dispatcher.state import HookState, Where
from bpfman.plugin import (
    AttachContext,
    ConflictError,
    KernelError,
    NetnsRef,
    NotFoundError,
    ProgramType,
    RecoverContext,
    Resource,
    entries,
    is_detached,
    is_pinned,
    kernel,
    program_types,
    unpin,
)
from bpfman.plugins.netdev import Device, device_by_index, recorded_device, resolve_ifindex

from .options import XdpParams

NAME = "xdp"
XDP_FLAGS = {"skb": 1 << 1, "driver": 1 << 2, "hw": 1 << 3}
MODES = ("driver", "skb")  # tried in this order when nothing is configured
ALIASES = {"drv": "driver"}  # the reference bpfman's names: skb, drv, hw


class Xdp(DispatcherHandler[XdpParams]):
    flavour = XDP

    def hook_of(self, ctx: AttachContext, params: XdpParams) -> tuple[str, Where, XdpHook]:
        device = resolve_ifindex(params.iface, params.netns)
        where = Where(**device.to_record())
        return self.hook_key(where), where, XdpHook(ctx, device, _mode(ctx, device))

    def describe(self, recorded: Any) -> Any:
        view = super().describe(recorded)
        view.rows.append(("XDP Mode", str(recorded.get("xdp_mode", "None"))))
        return view

    def ops_for(self, ctx: Context, state: HookState) -> tuple[XdpHook, bool]:
        try:
            device = recorded_device(state.where.to_record())
        except NotFoundError as gone:
            ctx.note(f"xdp: {gone}; its XDP hook went with it")
            return XdpHook(ctx, None, "driver"), False
        return XdpHook(ctx, device, "driver"), device is not None

    def release_hook(self, resource: Resource) -> None:
        data = resource.data
        if resource.kind == "xdp-link":
            _detach_link(str(data["pin"]))
        elif resource.kind == "xdp-swap":
            _swap_back(str(data["link_pin"]), str(data["from_pin"]), str(data["to_pin"]))
        else:
            super().release_hook(resource)

    def hook_key(self, where: Where) -> str:
        return f"{NAME}/{where.key}"

    def found_hooks(self, ctx: RecoverContext, ours: set[int]) -> list[FoundHook]:
        """The XDP links pinned in bpfman's directory: ``link-<netns inode>-<ifindex>``."""
        nsfs = os.stat("/proc/self/ns/net").st_dev
        found = []
        for entry in entries(ctx.plugin_dir(NAME)):
            parts = entry.name.split("-")
            if len(parts) != 3 or parts[0] != "link" or not is_pinned(entry.path):
                continue
            with kernel.obj_get(entry.path) as fd:
                info = kernel.link_info(fd.fd)
            device = device_by_index(NetnsRef(None, nsfs, int(parts[1])), info.words[0])
            if device is None:
                ctx.note(f"xdp: {entry.path} is on an interface that is gone; not adopted")
                continue
            found.append(
                FoundHook(
                    Where(**device.to_record()),
                    {"link_pin": entry.path, "xdp_mode": _attached_mode(device)},
                    info.prog_id,
                )
            )
        return found

    def extras(self, attach: Mapping[str, Any]) -> dict[str, Any]:
        """The mode the hook's XDP link runs in (driver, or skb after a fallback)."""
        return {"xdp_mode": attach["xdp_mode"]}

    def held_by(self, attach: Mapping[str, Any]) -> str | None:
        return str(attach["link_pin"])

    def sweep(self, ctx: RecoverContext) -> list[str]:
        lines = []
        for entry in entries(ctx.plugin_dir(NAME)):
            if entry.name.startswith("link-") and is_pinned(entry.path):
                lines.append(f"detaching the XDP link {entry.path}")
                ctx.retire(_link(entry.path))
        return lines

    def orphan(self, ctx: RecoverContext, path: str) -> None:
        if path.rsplit("/", 1)[-1].startswith("link-"):
            ctx.note(f"xdp: detaching unrecorded XDP link {path}")
            ctx.retire(_link(path))
        else:
            super().orphan(ctx, path)


PROGRAM_TYPE = ProgramType(
    "xdp",
    kernel.PROG_TYPE.XDP,
    section_prefixes=("xdp",),
    handler=Xdp(),
    attach_help="Install an eBPF program on the XDP hook point for a given interface.",
    attach_info="xdp_attach_info",
)
bpfman_program_types = program_types(PROGRAM_TYPE)


def _attached_mode(device: Device) -> str:
    """The mode XDP runs in on the interface, as netlink reports it."""
    from pyroute2 import IPRoute

    with device.entered(), IPRoute() as ipr:
        for link in ipr.get_links(device.ifindex):
            xdp = link.get_attr("IFLA_XDP")
            attached = xdp.get_attr("IFLA_XDP_ATTACHED") if xdp else None
            return {1: "driver", 2: "skb", 3: "hw"}.get(attached or 0, "driver")
    return "driver"


def _mode(ctx: AttachContext, device: Device) -> str:
    """The XDP mode the configuration asks for on the interface (default driver).

    ``[xdp.interfaces] IFACE = MODE`` first, then the reference bpfman's
    ``[interfaces.IFACE] xdp_mode = MODE``, then ``[xdp] mode``; the
    configuration's schema has checked each is a mode name.
    """
    table = ctx.config(NAME)
    mode = table.get("interfaces", {}).get(device.name)
    if mode is None:
        mode = ctx.config("interfaces").get(device.name, {}).get("xdp_mode")
    if mode is None:
        mode = table.get("mode", "driver")
    return str(ALIASES.get(mode, mode))


def _link(pin: str) -> Resource:
    return Resource("xdp-link", {"pin": pin}, NAME)


class XdpHook:
    """The XDP hook of one interface (``device`` None: the interface is gone)."""

    def __init__(self, ctx: Context, device: Device | None, mode: str) -> None:
        self.ctx = ctx
        self.device = device
        self.mode = mode

    def install(self, prog_fd: int, prog_pin: str, previous: HookState | None) -> dict[str, Any]:
        """Attach (or swap in) ``prog_fd``; the record says the XDP mode it runs in."""
        if previous is not None:
            link_pin = previous.attach["link_pin"]
            self.ctx.intend(
                Resource(
                    "xdp-swap",
                    {"link_pin": link_pin, "from_pin": previous.prog_pin, "to_pin": prog_pin},
                    NAME,
                )
            )
            with kernel.obj_get(link_pin) as link, kernel.obj_get(previous.prog_pin) as old:
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
        pin = self.ctx.plugin_dir(NAME) / f"link-{device.netns.inode}-{device.ifindex}"
        with link:
            self.ctx.intend(_link(str(pin)))
            kernel.obj_pin(link.fd, str(pin))
        return {"link_pin": str(pin), "xdp_mode": mode}

    def removal(self, attach: dict[str, Any]) -> list[Resource]:
        return [_link(attach["link_pin"])]

    def alive(self, attach: dict[str, Any]) -> bool:
        """The XDP link is pinned and still on its interface (the kernel clears its
        ifindex when the interface goes)."""
        if not is_pinned(attach["link_pin"]):
            return False
        with kernel.obj_get(attach["link_pin"]) as link:
            return not is_detached(kernel.link_info(link.fd))


def _detach_link(pin: str) -> None:
    """Detach and unpin an XDP link; the interface may have taken it already."""
    if not is_pinned(pin):
        return
    with kernel.obj_get(pin) as link, contextlib.suppress(KernelError):
        kernel.link_detach(link.fd)
    unpin(pin)


def _swap_back(link_pin: str, from_pin: str, to_pin: str) -> None:
    """Undo a revision swap that was not committed: run the old program again."""
    if not (is_pinned(link_pin) and is_pinned(from_pin) and is_pinned(to_pin)):
        return
    with (
        kernel.obj_get(link_pin) as link,
        kernel.obj_get(from_pin) as old,
        kernel.obj_get(to_pin) as new,
    ):
        if kernel.link_info(link.fd).prog_id == kernel.prog_info(new.fd).id:
            kernel.link_update(link.fd, old.fd, old_prog_fd=new.fd)
