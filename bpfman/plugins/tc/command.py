"""The ``attach ID tc`` subcommand."""

from __future__ import annotations

from typing import Any

import click

from bpfman.cli.options import (
    MultiValueOption,
    attach_command,
    direction_option,
    iface_option,
    netns_option,
    priority_option,
)
from bpfman.dispatcher import TC

PROCEED_ON_HELP = (
    "Optional: Proceed to call other programs in chain on this exit code.\n"
    "Multiple values supported by repeating the parameter.\n"
    "Example: --proceed-on ok --proceed-on pipe\n\n"
    f"[possible values: {', '.join(TC.actions)}]\n\n"
    f"[default: {', '.join(TC.default_proceed_on)}]"
)


@attach_command("tc", help="Install an eBPF program on the TC hook point for a given interface.")
@direction_option
@iface_option
@priority_option
@click.option("--proceed-on", "proceed_on", cls=MultiValueOption, help=PROCEED_ON_HELP)
@netns_option
def command(
    direction: str, iface: str, priority: int, proceed_on: tuple[str, ...], netns: str | None
) -> dict[str, Any]:
    return {
        "direction": direction,
        "iface": iface,
        "priority": priority,
        "proceed_on": list(proceed_on),
        "netns": netns,
    }
