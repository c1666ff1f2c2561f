"""The ``attach ID tracepoint`` subcommand."""

from __future__ import annotations

from typing import Any

import click

from bpfman.cli.options import attach_command


@attach_command("tracepoint", help="Install an eBPF program on a Tracepoint.")
@click.option(
    "-t",
    "--tracepoint",
    required=True,
    help='Required: The tracepoint to attach to.\nExample: --tracepoint "sched/sched_switch"',
)
def command(tracepoint: str) -> dict[str, Any]:
    return {"tracepoint": tracepoint}
