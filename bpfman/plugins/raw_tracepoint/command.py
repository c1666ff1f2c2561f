"""The ``attach ID raw_tracepoint`` subcommand."""

from __future__ import annotations

import click

from bpfman.plugin import attach_command

from .options import RawTracepointParams


@attach_command(
    "raw_tracepoint", help="Install an eBPF program on a raw tracepoint (no category in its name)."
)
@click.option(
    "-t",
    "--tracepoint",
    required=True,
    help="Required: The raw tracepoint to attach to, without its category.\n"
    'Example: --tracepoint "sched_switch"',
)
def command(tracepoint: str) -> RawTracepointParams:
    return RawTracepointParams(tracepoint)
