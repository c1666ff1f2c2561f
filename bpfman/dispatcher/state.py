"""The record of one dispatcher hook: what runs on it, how, and the links in its slots.

A hook's state lives in the plugin records (namespace: the flavour's name,
key: the hook) as a flat msgpack map, the layout every version so far wrote::

    {"mode": "freplace" | "direct", "revision": n, "dir": pin dir or "",
     "prog_pin": what runs on the hook, "attach": the flavour's record,
     "links": [link ids in slot order],
     "iface": ..., "ifindex": ..., "netns": namespace reference, ["direction": ...]}

:class:`HookState` reads and writes exactly that, so a store written by an
older bpfman loads, and one written now is read back by it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from bpfman.kernel.namespaces import NetnsRef

Mode = Literal["freplace", "direct"]
FREPLACE: Mode = "freplace"
DIRECT: Mode = "direct"
MODES: tuple[Mode, ...] = (FREPLACE, DIRECT)


class Records(Protocol):
    """Where plugin records are read and written: a handler's context, or a snapshot."""

    def plugin_get(self, namespace: str, key: str) -> Any: ...

    def plugin_put(self, namespace: str, key: str, value: Any) -> None: ...

    def plugin_items(self, namespace: str) -> list[tuple[str, Any]]: ...


@dataclass(frozen=True)
class Where:
    """The interface a hook is on (and its direction, for tc).

    :param netns: the namespace as ``NetnsRef.to_record`` records it (stores
        from before namespaces were recorded by inode hold a bare path).
    """

    iface: str
    ifindex: int
    netns: Any
    direction: str | None = None

    @property
    def key(self) -> str:
        """``<netns inode>/<ifindex>``, the interface's key (as a netdev ``Device`` has it)."""
        return f"{NetnsRef.from_record(self.netns).inode}/{self.ifindex}"

    def to_record(self) -> dict[str, Any]:
        out = {"iface": self.iface, "ifindex": self.ifindex, "netns": self.netns}
        if self.direction is not None:
            out["direction"] = self.direction
        return out

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Where:
        direction = record.get("direction")
        return cls(
            str(record["iface"]),
            int(record["ifindex"]),
            record["netns"],
            None if direction is None else str(direction),
        )


@dataclass(frozen=True)
class HookState:
    """What bpfman runs on one hook.

    :param mode: ``freplace`` (a dispatcher calls each slot's program) or
        ``direct`` (one program alone on the hook).
    :param revision: how many dispatchers the hook has had (1 in direct mode).
    :param dir: the revision's pin directory ("" in direct mode).
    :param prog_pin: the pin of what runs on the hook: the dispatcher or the program.
    :param attach: the flavour's own record (what its ``HookOps.install`` returned).
    :param links: the link ids in slot order.
    """

    mode: Mode
    revision: int
    dir: str
    prog_pin: str
    attach: dict[str, Any]
    links: tuple[int, ...]
    where: Where

    def to_record(self) -> dict[str, Any]:
        return {
            **self.where.to_record(),
            "mode": self.mode,
            "revision": self.revision,
            "dir": self.dir,
            "prog_pin": self.prog_pin,
            "attach": dict(self.attach),
            "links": list(self.links),
        }

    @classmethod
    def from_record(cls, record: Any) -> HookState:
        """The state a record holds.

        :raises ValueError: when it is not a hook's record.
        """
        try:
            mode = record["mode"]
            if mode not in MODES:
                raise ValueError(f"unknown dispatch mode {mode!r}")
            return cls(
                mode,
                int(record["revision"]),
                str(record["dir"]),
                str(record["prog_pin"]),
                dict(record["attach"]),
                tuple(int(link) for link in record["links"]),
                Where.from_record(record),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not a dispatcher hook record: {exc}") from None


def hook_state(records: Records, flavour: str, hook: str) -> HookState | None:
    """The state of ``hook`` of ``flavour``, None when bpfman runs nothing there."""
    record = records.plugin_get(flavour, hook)
    return None if record is None else HookState.from_record(record)


def put_hook_state(records: Records, flavour: str, hook: str, state: HookState) -> None:
    records.plugin_put(flavour, hook, state.to_record())


def hook_states(records: Records, flavour: str) -> list[tuple[str, HookState]]:
    """Every hook of ``flavour`` and its state."""
    return [(hook, HookState.from_record(value)) for hook, value in records.plugin_items(flavour)]
