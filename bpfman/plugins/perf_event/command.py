"""The ``attach ID perf_event`` subcommand."""

from __future__ import annotations

import click

from bpfman.plugin import attach_command

from .events import NAMES
from .options import PerfEventParams


@attach_command(
    "perf_event",
    help="Install an eBPF program on a hardware or software perf event (sampling).",
)
@click.option(
    "-e",
    "--event",
    required=True,
    help="Required: The event to sample, by the name `perf list` gives it.\n"
    "Example: --event cpu-clock\n\n"
    f"[possible values: {', '.join(NAMES)}]",
)
@click.option(
    "-f",
    "--frequency",
    type=int,
    help="Samples per second (give this or --period).\nExample: --frequency 99",
)
@click.option(
    "--period",
    type=int,
    help="One sample every N events (give this or --frequency).\nExample: --period 100000",
)
@click.option(
    "-c",
    "--cpu",
    type=int,
    help="Optional: Sample only on this CPU (every task on it).\n"
    "Without --cpu and --pid, every online CPU is sampled.",
)
@click.option(
    "-p",
    "--pid",
    type=int,
    help="Optional: Sample only this process (its task with this PID), on any CPU.",
)
def command(
    event: str, frequency: int | None, period: int | None, cpu: int | None, pid: int | None
) -> PerfEventParams:
    return PerfEventParams(event, frequency, period, cpu, pid)
