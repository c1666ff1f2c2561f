"""The ``attach ID lsm`` subcommand."""

from __future__ import annotations

from bpfman.plugin import attach_command

from .options import LsmParams


@attach_command("lsm", help="Install an eBPF program on a BPF LSM hook, chosen at load time.")
def command() -> LsmParams:
    return LsmParams()
