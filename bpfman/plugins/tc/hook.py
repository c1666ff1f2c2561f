"""Hooking a program to an interface's TC hook: a direct-action cls_bpf filter.

The filter sits at priority 50 of a ``clsact`` qdisc, created when absent
(and removed again by the last detach only if bpfman created it and no
filter is left on it). A plain ``ingress`` qdisc is the user's and is an
error, never deleted. A new dispatcher revision goes in as a second filter
with a new handle: cls_bpf runs the newest filter of a priority first, so it
takes over at once, and the old filter is deleted after.

pyroute2 is slow to import, so it is imported only here, on first use.
"""

from __future__ import annotations

from typing import Any

from bpfman.core.context import AttachContext, DetachContext
from bpfman.core.errors import ConflictError, KernelError, NotFoundError
from bpfman.dispatcher.hook import Installed
from bpfman.plugins.netdev import Device

PARENTS = {"ingress": 0xFFFFFFF2, "egress": 0xFFFFFFF3}
FILTER_PRIORITY = 50
ETH_P_ALL = 0x0003
MAX_HANDLE = 0xFFFF
# Records of clsact qdiscs bpfman created, keyed "<netns inode>/<ifindex>".
QDISC_NS = "tc-qdisc"


class TcHook:
    """The TC hook of one interface and direction (``device`` None: it is gone)."""

    def __init__(
        self, ctx: AttachContext | DetachContext, device: Device | None, direction: str, key: str
    ) -> None:
        self.ctx = ctx
        self.device = device
        self.direction = direction
        self.qdisc_key = key

    def install(self, prog_fd: int, previous: Installed | None) -> dict[str, Any]:
        device = self.device
        assert device is not None
        handle = previous.attach["handle"] % MAX_HANDLE + 1 if previous else 1
        with device.entered(), _iproute() as ipr:
            if previous is None:
                self._ensure_clsact(ipr, device)
            self._drop_strays(ipr, device, previous.attach["handle"] if previous else None)
            try:
                ipr.tc(
                    "add-filter",
                    "bpf",
                    index=device.ifindex,
                    handle=handle,
                    fd=prog_fd,
                    name=f"bpfman-{self.direction}",
                    parent=PARENTS[self.direction],
                    prio=FILTER_PRIORITY,
                    direct_action=True,
                    protocol=ETH_P_ALL,
                )
            except Exception as exc:
                raise _kernel_error("add tc filter", exc) from exc
        if previous is None:
            self.ctx.on_rollback(lambda: self.remove({"handle": handle}))
        else:
            # The new filter runs first; the old one goes once the new chain is
            # recorded, and comes back into sole use if the change fails.
            old = previous.attach["handle"]
            self.ctx.on_rollback(lambda: self._delete(handle))
            self.ctx.after_commit(lambda: self._delete(old))
        return {"handle": handle}

    def _delete(self, handle: int) -> None:
        device = self.device
        assert device is not None
        with device.entered(), _iproute() as ipr:
            self._delete_filter(ipr, device, handle)

    def remove(self, attach: dict[str, Any]) -> None:
        device = self.device
        if device is None:
            self.ctx.plugin_delete(QDISC_NS, self.qdisc_key)
            return
        with device.entered(), _iproute() as ipr:
            self._delete_filter(ipr, device, attach["handle"])
            if self.ctx.plugin_get(QDISC_NS, self.qdisc_key) and not _filters(ipr, device):
                ipr.tc("del", "clsact", index=device.ifindex)
                self.ctx.plugin_delete(QDISC_NS, self.qdisc_key)

    def _ensure_clsact(self, ipr: Any, device: Device) -> None:
        kinds = {q.get_attr("TCA_KIND") for q in ipr.get_qdiscs(index=device.ifindex)}
        if "ingress" in kinds:
            raise ConflictError(
                f"tc: {device.name} has an ingress qdisc; bpfman needs clsact there: "
                f"remove it (tc qdisc del dev {device.name} ingress) and retry"
            )
        if "clsact" in kinds:
            return
        try:
            ipr.tc("add", "clsact", index=device.ifindex)
        except Exception as exc:
            raise _kernel_error("add clsact qdisc", exc) from exc
        self.ctx.plugin_put(QDISC_NS, self.qdisc_key, True)

    def _drop_strays(self, ipr: Any, device: Device, keep: int | None) -> None:
        """Delete bpfman filters on this hook that the state does not hold:
        a crash between adding a filter and recording it leaves one behind."""
        for found in ipr.get_filters(index=device.ifindex, parent=PARENTS[self.direction]):
            options = found.get_attr("TCA_OPTIONS")
            name = options.get_attr("TCA_BPF_NAME") if options else None
            if (
                found["handle"]
                and found["handle"] != keep
                and found["info"] >> 16 == FILTER_PRIORITY
                and name == f"bpfman-{self.direction}"
            ):
                self._delete_filter(ipr, device, found["handle"])

    def _delete_filter(self, ipr: Any, device: Device, handle: int) -> None:
        try:
            ipr.tc(
                "del-filter",
                "bpf",
                index=device.ifindex,
                handle=handle,
                parent=PARENTS[self.direction],
                prio=FILTER_PRIORITY,
                protocol=ETH_P_ALL,
            )
        except Exception as exc:
            if getattr(exc, "code", None) not in (2, 22):  # already gone with its qdisc
                raise _kernel_error("delete tc filter", exc) from exc


def _filters(ipr: Any, device: Device) -> list[Any]:
    return [
        f
        for parent in PARENTS.values()
        for f in ipr.get_filters(index=device.ifindex, parent=parent)
        if f["handle"]
    ]


def _iproute() -> Any:
    from pyroute2 import IPRoute

    return IPRoute()


def _kernel_error(operation: str, exc: Exception) -> Exception:
    code = getattr(exc, "code", None)
    if isinstance(code, int):
        return KernelError(operation, code)
    return NotFoundError(f"{operation}: {exc}")
