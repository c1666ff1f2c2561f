"""The ``attach ID cgroup`` subcommand."""

from __future__ import annotations

import click

from bpfman.plugin import attach_command

from .options import DEFAULT_PRIORITY, CgroupParams


@attach_command(
    "cgroup",
    help="Install an eBPF program on a cgroup v2 hook; the attach type comes from its section.",
)
@click.option(
    "-c",
    "--cgroup-path",
    required=True,
    help="Required: The cgroup v2 directory to attach to.\n"
    "Example: --cgroup-path /sys/fs/cgroup/my-service",
)
@click.option(
    "-p",
    "--priority",
    type=click.IntRange(1, 1000),
    default=DEFAULT_PRIORITY,
    show_default=True,
    help="Optional: Priority to run program in chain. Lower value runs first.\n"
    "[possible values: 1-1000]",
)
def command(cgroup_path: str, priority: int) -> CgroupParams:
    return CgroupParams(cgroup_path, priority)
