"""``bpfman system``: commands about bpfman itself rather than one program."""

from __future__ import annotations

import click

from .app import App
from .options import BpfmanCommand, BpfmanGroup


@click.group("system", cls=BpfmanGroup)
def system() -> None:
    """bpfman's own state: recovery after a crash or a lost store."""


@system.command(cls=BpfmanCommand)
@click.option(
    "--adopt",
    "mode",
    flag_value="adopt",
    help="Optional: When the state store is lost or corrupt, record every program and\n"
    "link that bpffs still holds, as if bpfman had just loaded them.",
)
@click.option(
    "--remove",
    "mode",
    flag_value="remove",
    help="Optional: When the state store is lost or corrupt, detach and unload everything\n"
    "that bpffs holds.",
)
@click.pass_obj
def recover(app: App, mode: str | None) -> None:
    """Finish interrupted operations, reconcile the state with the kernel, or rebuild a lost store."""
    for line in app.bpfman.recover(mode):
        click.echo(line)
