"""The ``attach ID xdp`` subcommand."""

from __future__ import annotations

from typing import Any

import click

from bpfman.cli.options import (
    MultiValueOption,
    attach_command,
    iface_option,
    netns_option,
    priority_option,
)
from bpfman.dispatcher import XDP

PROCEED_ON_HELP = (
    "Optional: Proceed to call other programs in chain on this exit code.\n"
    "Multiple values supported by repeating the parameter.\n"
    "Example: --proceed-on pass --proceed-on drop\n\n"
    f"[possible values: {', '.join(XDP.actions)}]\n\n"
    f"[default: {', '.join(XDP.default_proceed_on)}]"
)


@attach_command("xdp", help="Install an eBPF program on the XDP hook point for a given interface.")
@iface_option
@priority_option
@click.option("--proceed-on", "proceed_on", cls=MultiValueOption, help=PROCEED_ON_HELP)
@netns_option
def command(
    iface: str, priority: int, proceed_on: tuple[str, ...], netns: str | None
) -> dict[str, Any]:
    return {"iface": iface, "priority": priority, "proceed_on": list(proceed_on), "netns": netns}
