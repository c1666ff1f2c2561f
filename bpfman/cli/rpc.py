"""``bpfman-rpc``: the service alone, the name the systemd unit runs."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from .app import run_click
from .options import BpfmanCommand
from .system import run_service, service_options


@click.command("bpfman-rpc", cls=BpfmanCommand)
@click.option(
    "--root",
    type=Path,
    envvar="BPFMAN_ROOT",
    help="State and bpffs root directory [default: /run/bpfman; env BPFMAN_ROOT].",
)
@service_options
def command(root: Path | None, **options: Any) -> None:
    """Serve the bpfman.v1 gRPC API on a Unix socket."""
    run_service(root, **options)


def main(argv: Sequence[str] | None = None) -> int:
    return run_click(command, list(sys.argv[1:] if argv is None else argv), "bpfman-rpc")


if __name__ == "__main__":
    sys.exit(main())
