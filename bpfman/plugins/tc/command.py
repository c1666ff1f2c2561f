"""The ``attach ID tc`` subcommand."""

from __future__ import annotations

from bpfman.dispatcher import TC
from bpfman.dispatcher.plugin import proceed_on_option
from bpfman.plugin import (
    attach_command,
    direction_option,
    iface_option,
    netns_option,
    priority_option,
)

from .options import TcParams


@attach_command("tc", help="Install an eBPF program on the TC hook point for a given interface.")
@direction_option
@iface_option
@priority_option
@proceed_on_option(TC, "--proceed-on ok --proceed-on pipe")
@netns_option
def command(
    direction: str, iface: str, priority: int, proceed_on: tuple[str, ...], netns: str | None
) -> TcParams:
    return TcParams(direction, iface, priority, proceed_on, netns)
