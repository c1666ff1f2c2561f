"""The ``attach ID uprobe`` subcommand."""

from __future__ import annotations

import click

from bpfman.plugin import attach_command

from .options import UprobeParams


@attach_command("uprobe", help="Install a uprobe or uretprobe eBPF probe")
@click.option("-f", "--fn-name", help="Optional: Function to attach the uprobe to.")
@click.option(
    "-o",
    "--offset",
    type=click.IntRange(0, 2**64 - 1),
    help="Optional: Offset added to the address of the target function (or\n"
    "beginning of target if no function is identified). Offsets are\n"
    "supported for uretprobes, but use with caution because they can\n"
    "result in unintended side effects.",
)
@click.option(
    "-t",
    "--target",
    required=True,
    help='Required: Library name or the absolute path to a binary or library.\nExample: --target "libc".',
)
@click.option(
    "-p",
    "--pid",
    type=int,
    help="Optional: Only execute uprobe for given process identification number (PID).\n"
    "If PID is not provided, uprobe executes for all PIDs.",
)
@click.option(
    "-c",
    "--container-pid",
    type=int,
    help="Optional: Host PID of container to attach the uprobe in.",
)
def command(
    fn_name: str | None, offset: int | None, target: str, pid: int | None, container_pid: int | None
) -> UprobeParams:
    return UprobeParams(target, fn_name, offset or 0, pid, container_pid)
