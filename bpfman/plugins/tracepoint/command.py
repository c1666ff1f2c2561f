"""The ``attach ID tracepoint`` subcommand."""

from __future__ import annotations

import click

from bpfman.plugin import attach_command

from .options import TracepointParams


@attach_command("tracepoint", help="Install an eBPF program on a Tracepoint.")
@click.option(
    "-t",
    "--tracepoint",
    required=True,
    help='Required: The tracepoint to attach to.\nExample: --tracepoint "sched/sched_switch"',
)
def command(tracepoint: str) -> TracepointParams:
    return TracepointParams(tracepoint)
