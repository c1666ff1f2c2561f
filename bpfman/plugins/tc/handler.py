"""Hooking a program to an interface's TC hook: a direct-action cls_bpf filter.

The filter sits at priority 50 of a ``clsact`` qdisc, created when absent
(and removed again by the last detach only if bpfman created it and no
filter is left on it). A plain ``ingress`` qdisc is the user's and is an
error, never deleted. A new dispatcher revision goes in as a second filter
with a new handle: cls_bpf runs the newest filter of a priority first, so it
takes over at once, and the old filter is retired: deleted once the new
chain is committed. Filters and qdiscs are not pinned, so each is journaled
with what finds it again: the namespace, the interface and the handle.
A hook whose qdisc, interface or namespace vanished has nothing left to
remove, and detaching from it succeeds.

pyroute2 is slow to import, so it is imported only here, on first use.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from bpfman.dispatcher import TC
from bpfman.dispatcher.plugin import DispatcherHandler, FoundHook
from bpfman.dispatcher.revisions import Context
from bpfman.dispatcher.state import HookState, Where
from bpfman.plugin import (
    AttachContext,
    ConflictError,
    KernelError,
    NotFoundError,
    ProgramType,
    RecoverContext,
    Resource,
    kernel,
    program_types,
    reachable_netns,
)
from bpfman.plugins.netdev import Device, recorded_device, resolve_ifindex

from .options import TcParams

if TYPE_CHECKING:
    from pyroute2 import IPRoute

NAME = "tc"
PARENTS = {"ingress": 0xFFFFFFF2, "egress": 0xFFFFFFF3}
FILTER_PRIORITY = 50
ETH_P_ALL = 0x0003
MAX_HANDLE = 0xFFFF
# Records of clsact qdiscs bpfman created, keyed "<netns inode>/<ifindex>".
QDISC_NS = "tc-qdisc"
_GONE = (errno.ENOENT, errno.EINVAL, errno.ENODEV)


class Tc(DispatcherHandler[TcParams]):
    flavour = TC

    def hook_of(self, ctx: AttachContext, params: TcParams) -> tuple[str, Where, TcHook]:
        device = resolve_ifindex(params.iface, params.netns)
        where = Where(**device.to_record(), direction=params.direction)
        return self.hook_key(where), where, TcHook(ctx, device, params.direction, device.key())

    def ops_for(self, ctx: Context, state: HookState) -> tuple[TcHook, bool]:
        where = state.where
        try:
            device = recorded_device(where.to_record())
        except NotFoundError as gone:
            ctx.note(f"tc: {gone}; its TC hook went with it")
            device = None
        return TcHook(ctx, device, _direction(where), where.key), device is not None

    def release_hook(self, resource: Resource) -> None:
        data = resource.data
        if resource.kind == "tc-filter":
            with _recorded(data) as found:
                if found is not None:
                    ipr, device = found
                    _delete_filter(ipr, device.ifindex, str(data["direction"]), int(data["handle"]))
        elif resource.kind == "tc-clsact":
            with _recorded(data) as found:
                if found is not None and not _filters(*found):
                    try:
                        _tc(
                            found[0], "delete clsact qdisc", "del", "clsact", index=found[1].ifindex
                        )
                    except KernelError as exc:
                        if exc.errno not in _GONE:  # already deleted behind bpfman's back
                            raise
        else:
            super().release_hook(resource)

    def hook_key(self, where: Where) -> str:
        return f"{NAME}/{where.key}/{_direction(where)}"

    def found_hooks(self, ctx: RecoverContext, ours: set[int]) -> list[FoundHook]:
        """bpfman's filters running one of ``ours``, in every namespace that can be entered."""
        found = []
        for device, direction, handle, prog_id in _bpfman_filters(ours):
            where = Where(**device.to_record(), direction=direction)
            found.append(FoundHook(where, {"handle": handle}, prog_id))
            ctx.plugin_put(QDISC_NS, device.key(), True)  # who made it is lost: bpfman's now
        return found

    def sweep(self, ctx: RecoverContext) -> list[str]:
        lines = []
        ours = ctx.pinned_program_ids()
        for device, direction, handle, _ in _bpfman_filters(ours):
            hook = TcHook(ctx, device, direction, device.key())
            lines.append(f"removing the tc filter on {device.name} {direction} in {device.netns}")
            ctx.retire(hook._resource("tc-filter", handle=handle), hook._resource("tc-clsact"))
        return lines

    def reconcile(self, ctx: RecoverContext) -> None:
        super().reconcile(ctx)
        for key, _ in ctx.plugin_items(QDISC_NS):
            hooks = [k for k, _ in ctx.plugin_items(NAME) if k.startswith(f"{NAME}/{key}/")]
            if not hooks:
                ctx.note(f"tc: forgetting the clsact record of {key}: no hook uses it")
                ctx.plugin_delete(QDISC_NS, key)


PROGRAM_TYPE = ProgramType(
    "tc",
    kernel.PROG_TYPE.SCHED_CLS,
    section_prefixes=("classifier", "tc"),
    handler=Tc(),
    attach_help="Install an eBPF program on the TC hook point for a given interface.",
    attach_info="tc_attach_info",
)
bpfman_program_types = program_types(PROGRAM_TYPE)


class TcHook:
    """The TC hook of one interface and direction (``device`` None: it is gone)."""

    def __init__(self, ctx: Context, device: Device | None, direction: str, qdisc_key: str) -> None:
        self.ctx = ctx
        self.device = device
        self.direction = direction
        self.qdisc_key = qdisc_key

    def _resource(self, kind: str, **extra: Any) -> Resource:
        assert self.device is not None
        return Resource(
            kind, {**self.device.to_record(), "direction": self.direction, **extra}, NAME
        )

    def install(self, prog_fd: int, prog_pin: str, previous: HookState | None) -> dict[str, Any]:
        device = self.device
        assert device is not None
        handle = previous.attach["handle"] % MAX_HANDLE + 1 if previous else 1
        with device.entered(), _iproute() as ipr:
            self._ensure_clsact(ipr, device)
            self.ctx.intend(self._resource("tc-filter", handle=handle))
            _tc(
                ipr,
                "add tc filter",
                "add-filter",
                "bpf",
                index=device.ifindex,
                handle=handle,
                fd=prog_fd,
                # The name carries the program's id: recovery finds bpfman's filters
                # by it (pyroute2 does not decode TCA_BPF_ID).
                name=f"bpfman-{self.direction}-{kernel.prog_info(prog_fd).id}",
                parent=PARENTS[self.direction],
                prio=FILTER_PRIORITY,
                direct_action=True,
                protocol=ETH_P_ALL,
            )
        if previous is not None:
            # The new filter runs first; the old one goes once the new chain is recorded.
            self.ctx.retire(self._resource("tc-filter", handle=previous.attach["handle"]))
        return {"handle": handle}

    def removal(self, attach: dict[str, Any]) -> list[Resource]:
        if self.device is None:
            self.ctx.plugin_delete(QDISC_NS, self.qdisc_key)
            return []
        out = [self._resource("tc-filter", handle=attach["handle"])]
        other = "egress" if self.direction == "ingress" else "ingress"
        if self.ctx.plugin_get(QDISC_NS, self.qdisc_key) and not self.ctx.plugin_get(
            NAME, f"{NAME}/{self.qdisc_key}/{other}"
        ):
            out.append(self._resource("tc-clsact"))
            self.ctx.plugin_delete(QDISC_NS, self.qdisc_key)
        return out

    def alive(self, attach: dict[str, Any]) -> bool:
        device = self.device
        if device is None:
            return False
        with device.entered(), _iproute() as ipr:
            return any(
                f["handle"] == attach["handle"]
                for f in _list_filters(ipr, device.ifindex, PARENTS[self.direction])
            )

    def _ensure_clsact(self, ipr: IPRoute, device: Device) -> None:
        kinds = {q.get_attr("TCA_KIND") for q in ipr.get_qdiscs(index=device.ifindex)}
        if "ingress" in kinds:
            raise ConflictError(
                f"tc: {device.name} has an ingress qdisc; bpfman needs clsact there: "
                f"remove it (tc qdisc del dev {device.name} ingress) and retry"
            )
        if "clsact" in kinds:
            return
        self.ctx.intend(self._resource("tc-clsact"))
        _tc(ipr, "add clsact qdisc", "add", "clsact", index=device.ifindex)
        self.ctx.plugin_put(QDISC_NS, self.qdisc_key, True)


def _direction(where: Where) -> str:
    """A tc hook's direction (every tc hook records one)."""
    if where.direction not in PARENTS:
        raise ValueError(f"a tc hook with no direction: {where}")
    return str(where.direction)


def _bpfman_filters(ours: set[int]) -> list[tuple[Device, str, int, int]]:
    """(device, direction, handle, program id) of every bpfman filter running one of ``ours``."""
    found = []
    for ref in reachable_netns():
        try:
            with ref.entered(), _iproute() as ipr:
                for link in ipr.get_links():
                    device = Device(link.get_attr("IFLA_IFNAME"), link["index"], ref)
                    for direction, parent in PARENTS.items():
                        for f in _list_filters(ipr, device.ifindex, parent):
                            options = f.get_attr("TCA_OPTIONS")
                            name = str(options.get_attr("TCA_BPF_NAME") if options else "")
                            prefix, _, number = name.rpartition("-")
                            if (
                                f["handle"]
                                and prefix == f"bpfman-{direction}"
                                and f["info"] >> 16 == FILTER_PRIORITY
                                and number.isdigit()
                                and int(number) in ours
                            ):
                                found.append((device, direction, int(f["handle"]), int(number)))
        except (NotFoundError, KernelError, OSError):
            continue  # gone while we looked, or not ours to enter
    return found


@contextmanager
def _recorded(data: Any) -> Iterator[tuple[IPRoute, Device] | None]:
    """The recorded interface, entered, with a netlink socket; None when it is gone."""
    try:
        device = recorded_device(dict(data))
    except NotFoundError:
        device = None
    if device is None:
        yield None
        return
    with device.entered(), _iproute() as ipr:
        yield ipr, device


def _delete_filter(ipr: IPRoute, ifindex: int, direction: str, handle: int) -> None:
    try:
        _tc(
            ipr,
            "delete tc filter",
            "del-filter",
            "bpf",
            index=ifindex,
            handle=handle,
            parent=PARENTS[direction],
            prio=FILTER_PRIORITY,
            protocol=ETH_P_ALL,
        )
    except KernelError as exc:
        if exc.errno not in _GONE:  # already gone, with its qdisc or interface
            raise


def _filters(ipr: IPRoute, device: Device) -> list[Any]:
    return [
        f
        for parent in PARENTS.values()
        for f in _list_filters(ipr, device.ifindex, parent)
        if f["handle"]
    ]


def _list_filters(ipr: IPRoute, ifindex: int, parent: int) -> list[Any]:
    """The filters under ``parent``; none when the qdisc is gone."""
    from pyroute2.netlink.exceptions import NetlinkError

    try:
        return list(ipr.get_filters(index=ifindex, parent=parent))
    except NetlinkError as exc:
        if exc.code in _GONE:
            return []
        raise KernelError("list tc filters", exc.code) from exc


def _tc(ipr: IPRoute, what: str, *args: Any, **kwargs: Any) -> Any:
    """``ipr.tc``; netlink's refusal becomes a KernelError with its errno."""
    from pyroute2.netlink.exceptions import NetlinkError

    try:
        return ipr.tc(*args, **kwargs)
    except NetlinkError as exc:
        raise KernelError(what, exc.code) from exc


def _iproute() -> IPRoute:
    from pyroute2 import IPRoute

    return IPRoute()
