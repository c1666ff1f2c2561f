"""The ``attach ID fentry`` and ``attach ID fexit`` subcommands."""

from __future__ import annotations

from typing import Any

from bpfman.cli.options import attach_command


@attach_command("fentry", help="Install a fentry eBPF probe")
def fentry() -> dict[str, Any]:
    return {}


@attach_command("fexit", help="Install a fexit eBPF probe")
def fexit() -> dict[str, Any]:
    return {}
