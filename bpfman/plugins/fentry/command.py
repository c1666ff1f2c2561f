"""The ``attach ID fentry`` and ``attach ID fexit`` subcommands."""

from __future__ import annotations

from bpfman.plugin import attach_command

from .options import FentryParams, FexitParams


@attach_command("fentry", help="Install a fentry eBPF probe")
def fentry() -> FentryParams:
    return FentryParams()


@attach_command("fexit", help="Install a fexit eBPF probe")
def fexit() -> FexitParams:
    return FexitParams()
