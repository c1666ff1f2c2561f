"""The xdp program type: several programs per interface through a dispatcher."""

from __future__ import annotations

from typing import Any

import click

from bpfman.core.context import AttachContext, DetachContext, LinkView, ProgramType
from bpfman.core.errors import NotFoundError
from bpfman.core.model import LinkRecord, ProgramRecord
from bpfman.core.typeplugin import TypePlugin
from bpfman.dispatcher import XDP
from bpfman.dispatcher import plugin as shared
from bpfman.kernel import PROG_TYPE, BpfObject
from bpfman.plugins.netdev import resolve_ifindex

from .hook import XdpHook, configured_mode

NAME = "xdp"


class Xdp(TypePlugin):
    types = (ProgramType(NAME, PROG_TYPE.XDP, section_prefixes=("xdp",)),)

    def commands(self) -> list[click.Command]:
        from .command import command

        return [command]

    def prepare_load(
        self, program_type: str, function: str, section: str, obj: BpfObject
    ) -> dict[str, Any]:
        return shared.prepare_load(XDP, function, obj)

    def attach(self, program_type: str, ctx: AttachContext) -> dict[str, Any]:
        p = ctx.params
        iface, netns = str(p["iface"]), p.get("netns")
        params: dict[str, Any] = {
            "iface": iface,
            "priority": int(p["priority"]),
            "proceed_on": list(p.get("proceed_on") or []),
            "netns": netns,
        }
        device = resolve_ifindex(iface, netns)
        hook = f"{NAME}/{device.netns_inode}/{device.ifindex}"
        where = {"ifindex": device.ifindex, "iface": device.name, "netns": device.netns}
        ops = XdpHook(ctx, device, configured_mode(ctx, device.name))
        recorded = shared.attach(ctx, XDP, hook, params, ops, where)
        state = ctx.plugin_get(NAME, hook)
        recorded["xdp_mode"] = state["attach"]["xdp_mode"]
        return recorded

    def detach(self, program_type: str, ctx: DetachContext) -> bool | None:
        def ops_for(state: dict[str, Any]) -> tuple[XdpHook, bool]:
            try:
                device = resolve_ifindex(state["iface"], state["netns"])
            except NotFoundError:
                return XdpHook(ctx, None, "driver"), False
            return XdpHook(ctx, device, "driver"), device.ifindex == state["ifindex"]

        return shared.detach(ctx, XDP, ops_for)

    def describe(
        self, program_type: str, link: LinkRecord, program: ProgramRecord, position: int | None
    ) -> LinkView:
        view = shared.describe(link, position, direction=False)
        view.rows.append(("XDP Mode", str(link.params.get("xdp_mode", "None"))))
        return view


plugin = Xdp()
