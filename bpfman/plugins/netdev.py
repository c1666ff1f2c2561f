"""Network devices as bpfman addresses them: a name inside a network namespace."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from bpfman.core.errors import NotFoundError
from bpfman.kernel.namespaces import netns, ns_inode


@dataclass(frozen=True)
class Device:
    """An interface resolved in its namespace; ``netns_inode`` keys shared hooks."""

    name: str
    ifindex: int
    netns: str | None
    netns_inode: int

    @contextmanager
    def entered(self) -> Iterator[None]:
        """Run the body in the device's namespace (kernel calls take the ifindex there)."""
        with netns(self.netns):
            yield


def resolve_ifindex(name: str, netns_path: str | None) -> Device:
    inode = ns_inode(netns_path or "/proc/self/ns/net")
    with netns(netns_path):
        try:
            index = socket.if_nametoindex(name)
        except OSError:
            where = f" in network namespace {netns_path}" if netns_path else ""
            raise NotFoundError(f"interface {name} not found{where}") from None
    return Device(name, index, netns_path, inode)
