"""Network devices as the network plugins address them: a name in a namespace.

A device remembers its namespace as a :class:`NetnsRef`, so the hook it
names can be found again from any namespace, and "the namespace is gone"
is told apart from "the interface is gone".
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from bpfman.plugin import NetnsRef, NotFoundError


@dataclass(frozen=True)
class Device:
    """An interface resolved in its namespace."""

    name: str
    ifindex: int
    netns: NetnsRef

    @contextmanager
    def entered(self) -> Iterator[None]:
        """Run the body in the device's namespace (kernel calls take the ifindex there)."""
        with self.netns.entered():
            yield

    def key(self) -> str:
        """What identifies the interface across paths and namespaces."""
        return f"{self.netns.inode}/{self.ifindex}"

    def to_record(self) -> dict[str, Any]:
        return {"iface": self.name, "ifindex": self.ifindex, "netns": self.netns.to_record()}


def resolve_ifindex(name: str, netns_path: str | None) -> Device:
    """The interface ``name`` in the namespace at ``netns_path`` (None: the caller's)."""
    ref = NetnsRef.of(netns_path)
    with ref.entered():
        try:
            index = socket.if_nametoindex(name)
        except OSError:
            where = f" in network namespace {netns_path}" if netns_path else ""
            raise NotFoundError(f"interface {name} not found{where}") from None
    return Device(name, index, ref)


def device_by_index(ref: NetnsRef, ifindex: int) -> Device | None:
    """The interface with ``ifindex`` in ``ref``'s namespace, if it is there."""
    try:
        with ref.entered():
            name = socket.if_indextoname(ifindex)
    except (OSError, NotFoundError):
        return None
    return Device(name, ifindex, ref)


def recorded_device(state: dict[str, Any]) -> Device | None:
    """The recorded device if it still exists (same ifindex in the same namespace).

    :raises NotFoundError: when its namespace is gone.
    """
    ref = NetnsRef.from_record(state["netns"])
    with ref.entered():
        try:
            index = socket.if_nametoindex(state["iface"])
        except OSError:
            return None
    return Device(state["iface"], index, ref) if index == state["ifindex"] else None
