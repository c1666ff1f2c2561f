"""What runs on each XDP and TC hook, read from the records (``bpfman dispatcher``).

Read-only: each hook's record (:class:`~.state.HookState`) and the links
in its slots, as one snapshot shows them. Types are named as the reference
names its dispatchers: ``xdp``, ``tc-ingress``, ``tc-egress``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from .flavours import MAX_PROGRAMS, TC, XDP
from .revisions import DIR_PREFIX
from .state import FREPLACE, HookState

if TYPE_CHECKING:
    from bpfman.core.state import Txn

TYPES = ("xdp", "tc-ingress", "tc-egress")


@dataclass(frozen=True)
class Slot:
    """One slot of a dispatcher: the link in it and its program."""

    slot: int
    link_id: int
    program_id: int
    function: str
    priority: int | None
    proceed_on: list[str]


@dataclass(frozen=True)
class DispatcherView:
    """One hook's dispatcher.

    :param mode: ``freplace`` (a dispatcher calls each slot's program) or
        ``direct`` (the kernel refuses freplace: one program alone on the hook).
    :param program_id: what the hook runs: the dispatcher, or the lone program.
    :param nsid: the network namespace's inode number.
    """

    type: str
    iface: str
    ifindex: int
    netns: str
    nsid: int
    mode: str
    revision: int
    program_id: int | None
    xdp_mode: str | None
    slots: list[Slot]

    @property
    def capacity(self) -> int:
        return MAX_PROGRAMS if self.mode == FREPLACE else 1

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "capacity": self.capacity}


def dispatcher_views(txn: Txn) -> list[DispatcherView]:
    """Every hook bpfman runs a dispatcher (or a lone program) on, by type, namespace
    and interface index."""
    views = []
    for flavour in (XDP, TC):
        for _, record in txn.plugin_items(flavour.name):
            try:
                state = HookState.from_record(record)
            except ValueError:
                continue  # not a hook's record: nothing to show
            views.append(_view(txn, flavour.name, state))
    return sorted(views, key=lambda v: (TYPES.index(v.type), v.nsid, v.ifindex))


def _view(txn: Txn, flavour: str, state: HookState) -> DispatcherView:
    slots = []
    for slot, link_id in enumerate(state.links):
        link = txn.get_link(link_id)
        program = txn.get_program(link.program_id) if link is not None else None
        if link is None:
            continue  # a record the snapshot lacks: the hook is being changed
        slots.append(
            Slot(
                slot,
                link.id,
                link.program_id,
                program.name if program is not None else "",
                link.priority,
                list(link.params.get("proceed_on", [])),
            )
        )
    where = state.where
    netns = where.netns
    path, inode = (netns.get("path"), netns.get("inode")) if isinstance(netns, dict) else (netns, 0)
    return DispatcherView(
        type=flavour if where.direction is None else f"{flavour}-{where.direction}",
        iface=where.iface,
        ifindex=where.ifindex,
        netns=str(path or f"net:[{inode}]"),
        nsid=int(inode or 0),
        mode=state.mode,
        revision=state.revision,
        program_id=_running(state, slots),
        xdp_mode=state.attach.get("xdp_mode"),
        slots=slots,
    )


def _running(state: HookState, slots: list[Slot]) -> int | None:
    """The program on the hook: the dispatcher's id is in its revision's directory name
    (``dispatch-<ifindex>-<id>``); in direct mode it is the one member's program."""
    if state.mode != FREPLACE:
        return slots[0].program_id if slots else None
    name = state.dir.rsplit("/", 1)[-1]
    number = name.removeprefix(DIR_PREFIX).rpartition("-")[2]
    return int(number) if name.startswith(DIR_PREFIX) and number.isdigit() else None
