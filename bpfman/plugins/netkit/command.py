"""The ``attach ID netkit`` subcommand."""

from __future__ import annotations

import click

from bpfman.plugin import attach_command, netns_option, priority_option

from .options import NetkitParams


@attach_command(
    "netkit",
    help="Install an eBPF program on a netkit device pair, on the primary or the peer side.",
)
@click.option(
    "-i",
    "--iface",
    required=True,
    help="Required: The primary device of the netkit pair (for both directions).",
)
@click.option(
    "-d",
    "--direction",
    required=True,
    type=click.Choice(NetkitParams.directions),
    help="Required: primary runs the program on what the primary device sends,\n"
    "peer on what the peer device sends.",
)
@priority_option
@netns_option
def command(iface: str, direction: str, priority: int, netns: str | None) -> NetkitParams:
    return NetkitParams(direction, iface, priority, netns)
