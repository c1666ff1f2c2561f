"""The ``attach ID tcx`` subcommand."""

from __future__ import annotations

from bpfman.plugin import (
    attach_command,
    direction_option,
    iface_option,
    netns_option,
    priority_option,
)

from .options import TcxParams


@attach_command(
    "tcx", help="Install an eBPF program on the TCX hook point for a given interface and direction."
)
@direction_option
@iface_option
@priority_option
@netns_option
def command(direction: str, iface: str, priority: int, netns: str | None) -> TcxParams:
    return TcxParams(direction, iface, priority, netns)
