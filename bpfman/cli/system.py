"""``bpfman system``: commands that run or look after bpfman itself.

Imported only when ``system`` is used: the service's gRPC stack is imported
only when ``system service`` runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from .app import App
from .options import BpfmanCommand, BpfmanGroup

SOCKET_HELP = "Optional: Unix socket to serve on [default: /run/bpfman-sock/bpfman.sock]."
TIMEOUT_HELP = (
    "Optional: Exit after this many seconds without a request; 0 runs forever [default: 15]."
)
CSI_HELP = "Optional: Accepted for bpfman-operator; the CSI driver is not served yet."


def service_options(fn: Any) -> Any:
    """The options shared by ``bpfman system service`` and ``bpfman-rpc``."""
    for decorator in reversed(
        [
            click.option("--socket-path", type=Path, help=SOCKET_HELP),
            click.option("--timeout", type=click.IntRange(min=0), default=15, help=TIMEOUT_HELP),
            click.option("--csi-support", is_flag=True, help=CSI_HELP),
            click.option("-v", "--verbose", is_flag=True, help="Log debug messages."),
        ]
    ):
        fn = decorator(fn)
    return fn


def run_service(
    root: Path | None, socket_path: Path | None, timeout: int, csi_support: bool, verbose: bool
) -> None:
    import logging
    import os

    from ..core.config import missing_privilege
    from ..core.errors import PermissionDeniedError

    fmt = "%(levelname)s %(name)s: %(message)s"
    if not os.environ.get("JOURNAL_STREAM"):  # journald stamps lines itself
        fmt = "%(asctime)s " + fmt
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format=fmt, force=True)
    reason = missing_privilege()
    if reason:
        raise PermissionDeniedError(reason)
    from ..service.server import DEFAULT_SOCKET, serve

    serve(socket_path or DEFAULT_SOCKET, timeout, csi_support, root, verbose)


def make_system_group() -> click.Group:
    @click.group("system", cls=BpfmanGroup)
    def system() -> None:
        """Run bpfman as a service and look after its state."""

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

    @system.command("service", cls=BpfmanCommand)
    @service_options
    @click.pass_context
    def service(ctx: click.Context, /, **options: Any) -> None:
        """Serve the bpfman.v1 gRPC API on a Unix socket."""
        app = ctx.find_object(App)
        run_service(app.root if app else None, **options)

    return system
