"""The ``attach ID xdp`` subcommand."""

from __future__ import annotations

from bpfman.dispatcher import XDP
from bpfman.dispatcher.plugin import proceed_on_option
from bpfman.plugin import attach_command, iface_option, netns_option, priority_option

from .options import XdpParams


@attach_command("xdp", help="Install an eBPF program on the XDP hook point for a given interface.")
@iface_option
@priority_option
@proceed_on_option(XDP, "--proceed-on pass --proceed-on drop")
@netns_option
def command(iface: str, priority: int, proceed_on: tuple[str, ...], netns: str | None) -> XdpParams:
    return XdpParams(iface, priority, proceed_on, netns)
