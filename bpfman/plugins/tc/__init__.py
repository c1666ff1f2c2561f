"""The tc program type: several programs per interface and direction through a dispatcher."""

from __future__ import annotations

from typing import Any

import click

from bpfman.core.context import AttachContext, DetachContext, LinkView, ProgramType
from bpfman.core.errors import InvalidInputError, NotFoundError
from bpfman.core.model import LinkRecord, ProgramRecord
from bpfman.core.typeplugin import TypePlugin
from bpfman.dispatcher import TC
from bpfman.dispatcher import plugin as shared
from bpfman.kernel import PROG_TYPE, BpfObject
from bpfman.plugins.netdev import resolve_ifindex

from .hook import PARENTS, TcHook

NAME = "tc"


class Tc(TypePlugin):
    types = (ProgramType(NAME, PROG_TYPE.SCHED_CLS, section_prefixes=("classifier", "tc")),)

    def commands(self) -> list[click.Command]:
        from .command import command

        return [command]

    def prepare_load(
        self, program_type: str, function: str, section: str, obj: BpfObject
    ) -> dict[str, Any]:
        return shared.prepare_load(TC, function, obj)

    def attach(self, program_type: str, ctx: AttachContext) -> dict[str, Any]:
        p = ctx.params
        direction = str(p["direction"])
        if direction not in PARENTS:
            raise InvalidInputError(f"tc: invalid direction {direction!r}: use ingress or egress")
        iface, netns = str(p["iface"]), p.get("netns")
        params: dict[str, Any] = {
            "direction": direction,
            "iface": iface,
            "priority": int(p["priority"]),
            "proceed_on": list(p.get("proceed_on") or []),
            "netns": netns,
        }
        device = resolve_ifindex(iface, netns)
        qdisc = f"{device.netns_inode}/{device.ifindex}"
        hook = f"{NAME}/{qdisc}/{direction}"
        where = {
            "ifindex": device.ifindex,
            "iface": device.name,
            "netns": device.netns,
            "direction": direction,
        }
        ops = TcHook(ctx, device, direction, qdisc)
        return shared.attach(ctx, TC, hook, params, ops, where)

    def detach(self, program_type: str, ctx: DetachContext) -> bool | None:
        # The hook is "tc/<netns inode>/<ifindex>/<direction>"; the clsact record
        # is keyed by the interface part, so it goes even when the netns is gone.
        qdisc = "/".join((ctx.link.hook or "").split("/")[1:3])

        def ops_for(state: dict[str, Any]) -> tuple[TcHook, bool]:
            try:
                device = resolve_ifindex(state["iface"], state["netns"])
            except NotFoundError:
                return TcHook(ctx, None, state["direction"], qdisc), False
            alive = device.ifindex == state["ifindex"]
            return TcHook(ctx, device if alive else None, state["direction"], qdisc), alive

        return shared.detach(ctx, TC, ops_for)

    def describe(
        self, program_type: str, link: LinkRecord, program: ProgramRecord, position: int | None
    ) -> LinkView:
        return shared.describe(link, position, direction=True)


plugin = Tc()
