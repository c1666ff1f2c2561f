"""The ``bpfman`` command line.

Commands are thin: they turn flags into core calls and render the result.
``attach`` subcommands come from the installed plugins and are looked up only
when ``attach`` is used, so ``list`` and ``get`` never pay for plugin
discovery. Every :class:`BpfmanError` becomes one line on stderr and its
exit status.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .. import __version__
from ..errors import InvalidInputError
from ..validate import PULL_POLICIES
from . import complete as completion
from .app import App, error, lock_timeout, past_click, run_click, verbose_logging
from .exits import exit_status_text
from .grammar import (
    GLOBAL,
    LIST_LINKS,
    LIST_PROGRAMS,
    LOAD,
    LOAD_FILE,
    LOCK_TIMEOUT,
    ROOT,
    VERBOSE,
    Flag,
)
from .lazy import lazy_commands
from .listing import links_text, programs_text, show
from .options import (
    IMAGE_URL_HELP,
    REGISTRY_AUTH_HELP,
    BpfmanCommand,
    BpfmanGroup,
    flag_option,
    flag_options,
    id_argument,
    output_option,
    stacked,
)

if TYPE_CHECKING:
    from ..core.plugins import Plugins

CONTEXT = {"help_option_names": ["-h", "--help"]}

pass_app = click.make_pass_decorator(App)


class AttachGroup(BpfmanGroup):
    """``attach <PROGRAM_ID> <TYPE>``: one subcommand per installed plugin type."""

    def _commands(self, ctx: click.Context) -> dict[str, click.Command]:
        from .attach import attach_command

        types = self._plugins(ctx).types
        return {name: attach_command(types[name]) for name in sorted(types)}

    def _plugins(self, ctx: click.Context) -> Plugins:
        app = ctx.find_object(App)
        if app is None:  # completing a line: no command ran, so none made the App
            return completion.plugins(ctx)
        return app.bpfman.plugins

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*sorted(self._commands(ctx)), "help"]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """Only the named type's plugin is loaded to run its subcommand."""
        if cmd_name == "help":
            return super().get_command(ctx, cmd_name)
        from .attach import attach_command

        try:
            ptype = self._plugins(ctx).program_type(cmd_name)
        except InvalidInputError:
            return None
        return attach_command(ptype)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """``attach ID --output json TYPE ...`` works too: ``--output`` moves before ID."""
        moved: list[str] = []
        rest = list(args)
        while len(rest) > 2 and rest[1] == "--output":
            moved += rest[1:3]
            del rest[1:3]
        while len(rest) > 1 and rest[1].startswith("--output="):
            moved.append(rest.pop(1))
        return super().parse_args(ctx, [*moved, *rest])


def _root(ctx: click.Context, param: click.Parameter, value: str | None) -> Path | None:
    if value == "":
        raise click.BadParameter("must name a directory, not be empty", ctx, param)
    return None if value is None else Path(value)


def _lock_timeout(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return lock_timeout(value)
    except InvalidInputError as exc:
        raise click.BadParameter(str(exc), ctx, param) from None


def _verbose(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    if value:
        verbose_logging()
    return value


def _late(
    convert: Callable[[click.Context, click.Parameter, Any], Any],
    apply: Callable[[App, Any], None] = lambda app, value: None,
) -> Callable[[click.Context, click.Parameter, Any], None]:
    """The callback of a global option given after the subcommand: it updates the App."""

    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> None:
        if value is None or value is False:
            return  # not given after the subcommand
        app = ctx.find_object(App)
        assert app is not None  # made by the root command before any subcommand parses
        apply(app, convert(ctx, param, value))

    return callback


GLOBAL_NOTE = """Global options (--root/--runtime-dir, --lock-timeout, -v) may also follow the
subcommand.

Each command has a noun-first spelling too: `program load|unload|get|list`
and `link attach|detach|get|list` are the same commands as `load`, `unload`,
`get program`, `list programs`, `attach`, `detach`, `get link` and `list links`."""


class RootGroup(BpfmanGroup):
    """``bpfman``: every subcommand takes its global options too, and Ctrl-C and a
    closed stdout get past click (which would print "Aborted!" or exit 1 silently)."""

    def late_params(self) -> list[click.Parameter]:
        late = {
            ROOT: _late(_root, App.set_root),
            LOCK_TIMEOUT: _late(_lock_timeout, App.set_lock_timeout),
            VERBOSE: _late(_verbose),
        }
        return [
            flag_option(flag, hidden=True, expose_value=False, envvar=None, callback=late[flag])
            for flag in GLOBAL
        ]

    def make_context(self, *args: Any, **extra: Any) -> click.Context:
        with past_click():
            return super().make_context(*args, **extra)

    def invoke(self, ctx: click.Context) -> Any:
        with past_click():
            return super().invoke(ctx)

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        formatter.write(f"{self.epilog}\n\nExit status:\n{exit_status_text()}\n")


@click.group(cls=RootGroup, epilog=GLOBAL_NOTE)
@flag_options(
    *GLOBAL, callbacks={"root": _root, "lock_timeout": _lock_timeout, "verbose": _verbose}
)
@click.version_option(__version__, "-V", "--version", message="bpfman %(version)s")
@click.pass_context
def cli(ctx: click.Context, root: Path | None, lock_timeout: float | None, verbose: bool) -> None:
    """An eBPF manager focusing on simplifying the deployment and administration of eBPF programs."""
    if ctx.obj is None:
        ctx.obj = App(root, lock_timeout=lock_timeout)
    else:
        ctx.obj.root = root
        ctx.obj.lock_timeout = lock_timeout
    ctx.call_on_close(ctx.obj.close)


# -- load -------------------------------------------------------------------
@cli.group(cls=BpfmanGroup)
def load() -> None:
    """Load an eBPF program on the system."""


@load.command("file", cls=BpfmanCommand)
@flag_options(*LOAD_FILE)
@pass_app
def load_file(app: App, /, programs: tuple[str, ...], path: str, output: str, **load: Any) -> None:
    """Load an eBPF program from a local .o file."""
    app.output = output
    app.load(partial(app.bpfman.load_file, path), programs, **load)


@load.command("image", cls=BpfmanCommand)
@flag_options(*LOAD)
@click.option(
    "-i",
    "--image-url",
    required=True,
    help=IMAGE_URL_HELP,
)
@click.option(
    "-r",
    "--registry-auth",
    help=REGISTRY_AUTH_HELP,
)
@click.option(
    "-p",
    "--pull-policy",
    type=click.Choice(PULL_POLICIES),
    default="IfNotPresent",
    show_default=True,
    help="Optional: Pull policy for remote images.",
)
@pass_app
def load_image(
    app: App,
    /,
    programs: tuple[str, ...],
    image_url: str,
    registry_auth: str | None,
    pull_policy: str,
    output: str,
    **load: Any,
) -> None:
    """Load an eBPF program packaged in an OCI container image from a given registry."""
    app.output = output
    load_image = partial(
        app.bpfman.load_image, image_url, pull_policy=pull_policy, registry_auth=registry_auth
    )
    app.load(load_image, programs, **load)


# -- unload / detach --------------------------------------------------------
REMOVAL_EPILOG = """Several ids are removed one by one, each in its own transaction: one that
fails is reported on stderr and the others are still removed. The exit status
is 0 only when every id was removed (or, with --ignore-missing, was not there);
otherwise it is the status of the first failure."""
IGNORE_MISSING_HELP = """Optional: Treat an id that does not exist as removed already (exit status 0),
for idempotent clean-up. A program bpfman does not manage is still an error."""


def _removal(argument: str, help: str) -> Callable[[Any], click.Command]:
    """``unload`` and ``detach``: several ids, each removed on its own, and --ignore-missing."""
    return stacked(
        cli.command(cls=BpfmanCommand, epilog=REMOVAL_EPILOG),
        id_argument(argument, help, many=True),
        click.option("--ignore-missing", is_flag=True, help=IGNORE_MISSING_HELP),
        pass_app,
    )


@_removal("program_id", "Required: Program Id(s) to be unloaded.")
def unload(app: App, program_id: tuple[int, ...], ignore_missing: bool) -> None:
    """Unload an eBPF program using the Program Id."""
    status = app.remove_each("programs", "unloaded", program_id, app.bpfman.unload, ignore_missing)
    click.get_current_context().exit(status)


@cli.group(cls=AttachGroup)
@click.option(
    "--output",
    type=click.Choice(["table", "json"]),
    default="table",
    help="Optional: Output format of the new link; json is for scripts.",
)
@id_argument("program_id", "Required: Program Id to be attached.")
@pass_app
def attach(app: App, output: str, program_id: int) -> None:
    """Attach an eBPF program to a hook point using the Program Id."""
    app.output = output


@_removal("link_id", "Required: Link Id(s) to be detached.")
def detach(app: App, link_id: tuple[int, ...], ignore_missing: bool) -> None:
    """Detach an eBPF program from a hook point using the Link Id."""
    status = app.remove_each("links", "detached", link_id, app.bpfman.detach, ignore_missing)
    click.get_current_context().exit(status)


# -- list / get -------------------------------------------------------------
@cli.group("list", cls=BpfmanGroup, aliases={"program": "programs", "link": "links"})
def list_() -> None:
    """List all loaded eBPF programs or attached links."""


def _listing(name: str, flags: tuple[Flag, ...]) -> Callable[[Any], click.Command]:
    """``list programs`` and ``list links``: the flags the fast path parses too."""
    return stacked(list_.command(name, cls=BpfmanCommand), flag_options(*flags), pass_app)


@_listing("programs", LIST_PROGRAMS)
def list_programs(app: App, /, output: str, **filters: Any) -> None:
    """List all loaded eBPF programs."""
    show(programs_text(app.bpfman.list_programs, output, **filters))


@_listing("links", LIST_LINKS)
def list_links(app: App, /, output: str, **filters: Any) -> None:
    """List all program attachments."""
    show(links_text(app.bpfman.list_links, output, **filters))


@cli.group(cls=BpfmanGroup)
def get() -> None:
    """Get a loaded eBPF program or program attachment link."""


def _shown(name: str, help: str) -> Callable[[Any], click.Command]:
    """``get program`` and ``get link``: one id, and --output."""
    return stacked(
        get.command(name, cls=BpfmanCommand),
        id_argument(f"{name}_id", help),
        output_option,
        pass_app,
    )


@_shown("program", "Required: Program Id to get.")
def get_program(app: App, program_id: int, output: str) -> None:
    """Get a loaded eBPF program using the Program Id."""
    app.output = output
    app.show_program(program_id)


@_shown("link", "Required: Link Id to get.")
def get_link(app: App, link_id: int, output: str) -> None:
    """Get a loaded eBPF program's attachment using the Link Id."""
    app.output = output
    app.show_link(link_id)


# -- the noun-first spelling: the same command objects under a second parent
@cli.group(cls=BpfmanGroup)
def program() -> None:
    """Load, unload, get or list programs (noun first: the same commands as the verbs)."""


@cli.group(cls=BpfmanGroup)
def link() -> None:
    """Attach, detach, get or list links (noun first: the same commands as the verbs)."""


def _noun_first() -> None:
    for group, commands in (
        (program, {"load": load, "unload": unload, "get": get_program, "list": list_programs}),
        (link, {"attach": attach, "detach": detach, "get": get_link, "list": list_links}),
    ):
        for name, command in commands.items():
            group.add_command(command, name)


_noun_first()
for _command in lazy_commands():  # image, dispatcher, dump, run, profile, tracelog, system
    cli.add_command(_command)


@cli.command(cls=BpfmanCommand)
@output_option
def version(output: str) -> None:
    """Print the version of bpfman and of what it runs on (-V: the first line only)."""
    import os
    import platform

    from ..images.oci import host_goarch

    facts = {
        "version": __version__,
        "python": f"{platform.python_version()} ({sys.executable})",
        "platform": f"{platform.system().lower()}/{host_goarch()}",
        "kernel": os.uname().release,
    }
    if output == "json":
        from .output import dumps

        click.echo(dumps(facts))
        return
    click.echo(f"bpfman {__version__}")
    for label, value in list(facts.items())[1:]:
        click.echo(f"{label.capitalize() + ':':<10}{value}")


SOURCE_TREE_HELP = """Optional: The source tree whose CHANGELOG.md (this version's release date) or
last commit dates the pages; SOURCE_DATE_EPOCH, if set, wins
[default: the tree bpfman runs from, if it runs from one]."""


@cli.command(hidden=True, cls=BpfmanCommand)
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--source-tree", type=click.Path(file_okay=False, path_type=Path), help=SOURCE_TREE_HELP
)
def man(out_dir: Path, source_tree: Path | None) -> None:
    """Generate the man pages of bpfman and bpfctl."""
    from .docs import write_man_pages

    obj = click.get_current_context().find_root().obj
    for path in write_man_pages(out_dir, obj, source_tree):
        click.echo(path)


@cli.command(hidden=True, cls=BpfmanCommand)
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--shell",
    type=click.Choice(["bash", "zsh", "fish"]),
    help="Optional: The shell to write completions for [default: all of them].",
)
def completions(out_dir: Path, shell: str | None) -> None:
    """Generate shell completions for bpfman."""
    from .docs import SHELLS, write_completions

    for path in write_completions(cli, out_dir, (shell,) if shell else SHELLS):
        click.echo(path)


def main(argv: Sequence[str] | None = None, app: App | None = None) -> int:
    """Run the full CLI; every error becomes one stderr line and an exit status."""
    if completion.COMPLETE_VAR in os.environ:  # a shell's Tab (see complete.py)
        return completion.complete(cli, app)
    args = list(sys.argv[1:] if argv is None else argv)
    return run_click(cli, args, "bpfman", obj=app, no_args=_missing_command)


def _missing_command(exc: click.exceptions.NoArgsIsHelpError) -> int:
    path = exc.ctx.command_path if exc.ctx else "bpfman"
    error(f"missing command: see '{path} --help'")
    return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
