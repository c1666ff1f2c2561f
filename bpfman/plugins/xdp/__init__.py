"""The xdp program type: several programs per interface through a dispatcher."""

from __future__ import annotations

from typing import Any

import click

from bpfman.core.context import AttachContext, DetachContext, LinkView, ProgramType
from bpfman.core.errors import NotFoundError
from bpfman.core.hookspecs import hookimpl
from bpfman.core.kernel import PROG_TYPE, BpfObject
from bpfman.core.model import LinkRecord, ProgramRecord
from bpfman.core.netdev import resolve_ifindex
from bpfman.dispatcher import XDP
from bpfman.dispatcher import plugin as shared

from .hook import XdpHook, configured_mode

NAME = "xdp"


@hookimpl
def bpfman_program_types() -> list[ProgramType]:
    return [ProgramType(NAME, PROG_TYPE.XDP, section_prefixes=("xdp",))]


@hookimpl
def bpfman_attach_commands() -> list[click.Command]:
    from .command import command

    return [command]


@hookimpl
def bpfman_prepare_load(
    program_type: str, function: str, section: str, attach_func: str | None, obj: BpfObject
) -> dict[str, Any] | None:
    if program_type != NAME:
        return None
    return shared.prepare_load(XDP, function, obj)


@hookimpl
def bpfman_attach(program_type: str, ctx: AttachContext) -> dict[str, Any] | None:
    if program_type != NAME:
        return None
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


@hookimpl
def bpfman_detach(program_type: str, ctx: DetachContext) -> bool | None:
    if program_type != NAME:
        return None

    def ops_for(state: dict[str, Any]) -> tuple[XdpHook, bool]:
        try:
            device = resolve_ifindex(state["iface"], state["netns"])
        except NotFoundError:
            return XdpHook(ctx, None, "driver"), False
        return XdpHook(ctx, device, "driver"), device.ifindex == state["ifindex"]

    return shared.detach(ctx, XDP, ops_for)


@hookimpl
def bpfman_describe_link(
    program_type: str, link: LinkRecord, program: ProgramRecord, position: int | None
) -> LinkView | None:
    if program_type != NAME:
        return None
    view = shared.describe(link, position, direction=False)
    view.rows.append(("XDP Mode", str(link.params.get("xdp_mode", "None"))))
    return view
