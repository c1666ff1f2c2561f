"""The ``attach ID kprobe`` subcommand."""

from __future__ import annotations

import click

from bpfman.plugin import attach_command

from .options import KprobeParams


@attach_command("kprobe", help="Install a kprobe or kretprobe eBPF probe")
@click.option("-f", "--fn-name", required=True, help="Required: Function to attach the kprobe to.")
@click.option(
    "-o",
    "--offset",
    type=click.IntRange(0, 2**64 - 1),
    help="Optional: Offset added to the address of the function for kprobe.\n"
    "Not allowed for kretprobes.",
)
@click.option(
    "-c",
    "--container-pid",
    type=int,
    help="Optional: Host PID of container to attach the kprobe in.\n(NOT CURRENTLY SUPPORTED)",
)
def command(fn_name: str, offset: int | None, container_pid: int | None) -> KprobeParams:
    return KprobeParams(fn_name, offset or 0, container_pid)
