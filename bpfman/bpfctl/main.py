"""The ``bpfctl`` command line, as the bpfctl guide writes it.

Commands are thin: they turn flags into the model's requests, ask the
backend and print the guide's output. Every failure is one stderr line and
bpfman's exit status for its kind.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

import click

from bpfman import __version__
from bpfman.cli.app import run_click
from bpfman.cli.grammar import PROGRAM_TYPE
from bpfman.cli.options import U32, MultiValueOption, flag_options, id_argument, stacked
from bpfman.inputs import parse_globals, parse_key_values

from .backends import DEFAULT_SOCKET, SOCKET_ENV, Client
from .commands import HOOK_COMMANDS, GuideCommand, GuideGroup, LoadGroup
from .model import FileSource, ImageSource, Load
from .render import programs_table, shown_text

GLOBAL_HELP = """Optional: Global variables to be set when program is loaded.
Format: <NAME>=<Hex Value>

This is a very low level primitive. The caller is responsible for formatting
the byte string appropriately considering such things as size, endianness,
alignment and packing of data structures."""
METADATA_HELP = """Optional: Specify Key/Value metadata to be attached to a program when it
is loaded by bpfd.
Format: <KEY>=<VALUE>

This can later be used to list a certain subset of programs which contain
the specified metadata."""
MAP_OWNER_HELP = """Optional: Program id of loaded eBPF program this eBPF program will share a map with.
Only used when multiple eBPF programs need to share a map.
Example: --map-owner-id 63178"""
PATH_HELP = """Required: Location of local bytecode file
Example: --path /run/bpfd/examples/go-xdp-counter/bpf_bpfel.o"""
FUNCTION_HELP = "Required: The name of the function that is the entry point for the BPF program"
IMAGE_URL_HELP = """Required: Container Image URL.
Example: --image-url quay.io/bpfd-bytecode/xdp_pass:latest"""
REGISTRY_AUTH_HELP = """Optional: Registry auth for authenticating with the specified image registry.
This should be base64 encoded from the '<username>:<password>' string just like
it's stored in the docker/podman host config.
Example: --registry-auth "YnjrcKw63PhDcQodiU9hYxQ2\""""
SOCKET_HELP = f"The bpfman service's socket [default: {DEFAULT_SOCKET}; env {SOCKET_ENV}]."


def common_options(metadata_help: str) -> Callable[[Any], Any]:
    return stacked(
        click.option("-g", "--global", "global_", cls=MultiValueOption, help=GLOBAL_HELP),
        click.option("-m", "--metadata", multiple=True, help=metadata_help),
        click.option("--map-owner-id", type=U32(), help=MAP_OWNER_HELP),
    )


image_options = stacked(
    click.option("-i", "--image-url", required=True, help=IMAGE_URL_HELP),
    click.option("-r", "--registry-auth", help=REGISTRY_AUTH_HELP),
    click.option(
        "-p",
        "--pull-policy",
        type=click.Choice(["Always", "IfNotPresent", "Never"]),
        default="IfNotPresent",
        show_default=True,
        help="Optional: Pull policy for remote images.",
    ),
)
pass_client = click.make_pass_decorator(Client)


@click.group(cls=GuideGroup)
@click.option("--socket-path", envvar=SOCKET_ENV, default=DEFAULT_SOCKET, hidden=True, help=SOCKET_HELP)  # fmt: skip
@click.option("-v", "--verbose", is_flag=True, hidden=True, help="Log debug messages to stderr.")
@click.version_option(__version__, "-V", "--version", message="bpfctl %(version)s", help="Print version")  # fmt: skip
@click.pass_context
def cli(ctx: click.Context, socket_path: str, verbose: bool) -> None:
    """A client for working with bpfd"""
    if verbose:
        import logging

        logging.basicConfig(level=logging.DEBUG, format="%(levelname)s %(name)s: %(message)s")
    ctx.obj = Client(socket_path)
    ctx.call_on_close(ctx.obj.close)


def _load(source: FileSource | ImageSource, name: str, load: dict[str, Any]) -> Load:
    return Load(
        source,
        name,
        globals=parse_globals(load["global_"] or ()),
        metadata=parse_key_values(load["metadata"]),
        map_owner_id=load["map_owner_id"],
    )


@cli.group("load-from-file", cls=LoadGroup)
@click.option("-p", "--path", required=True, help=PATH_HELP)
@click.option("-n", "--name", required=True, help=FUNCTION_HELP)
@common_options(METADATA_HELP)
@click.pass_context
def load_from_file(ctx: click.Context, /, path: str, name: str, **load: Any) -> None:
    """Load an eBPF program from a local .o file"""
    ctx.obj = _load(FileSource(os.path.abspath(path)), name, load)


@cli.group("load-from-image", cls=LoadGroup)
@image_options
@click.option(
    "-n",
    "--name",
    default="",
    show_default=True,
    help="Optional: The name of the function that is the entry point for the BPF program.\n"
    "If not provided, the program name defined as part of the bytecode image will be used.",
)
@common_options(f"{METADATA_HELP}\nExample: --metadata owner=acme")
@click.pass_context
def load_from_image(
    ctx: click.Context,
    /,
    image_url: str,
    registry_auth: str | None,
    pull_policy: str,
    name: str,
    **load: Any,
) -> None:
    """Load an eBPF program packaged in a OCI container image from a given registry"""
    ctx.obj = _load(ImageSource(image_url, pull_policy, registry_auth), name, load)


for _command in HOOK_COMMANDS:
    load_from_file.add_command(_command)
    load_from_image.add_command(_command)


@cli.command(cls=GuideCommand)
@id_argument("id", "Required: Program id to unload")
@pass_client
def unload(client: Client, id: int) -> None:
    """Unload an eBPF program using the program id"""
    client.backend.unload(id)


@cli.command("list", cls=GuideCommand)
@flag_options(PROGRAM_TYPE)
@click.option("-a", "--all", "all_", is_flag=True, help="Optional: List all programs")
@pass_client
def list_(client: Client, program_type: str | None, all_: bool) -> None:
    """List all eBPF programs loaded via bpfd"""
    click.echo(programs_table(client.backend.programs(all_, program_type)))


@cli.command(cls=GuideCommand)
@id_argument("id", "Required: Program id to get")
@pass_client
def get(client: Client, id: int) -> None:
    """Get a program's metadata by program id"""
    click.echo(shown_text(client.backend.program(id)))


@cli.command("pull-bytecode", cls=GuideCommand)
@image_options
@pass_client
def pull_bytecode(
    client: Client, image_url: str, registry_auth: str | None, pull_policy: str
) -> None:
    """Pull a bytecode image for future use by a load command"""
    client.backend.pull(image_url, pull_policy, registry_auth)
    click.echo("Successfully downloaded bytecode")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: every failure becomes one stderr line and an exit status."""
    return run_click(cli, list(sys.argv[1:] if argv is None else argv), "bpfctl", no_args=_help)


def _help(exc: click.exceptions.NoArgsIsHelpError) -> int:
    print(exc.ctx.get_help() if exc.ctx else "", file=sys.stderr)  # as clap does
    return 2


if __name__ == "__main__":
    sys.exit(main())
