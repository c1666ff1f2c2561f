"""Shared click plumbing: multi-value options, clap-style help, common flags."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar, cast

import click

from .grammar import OUTPUT, Flag

F = TypeVar("F", bound=Callable[..., Any])


class MultiValueOption(click.Option):
    """An option that takes every following word up to the next flag.

    ``--programs xdp:a kprobe:b`` works as in the reference CLI; each word is
    one more occurrence of a ``multiple=True`` option.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("multiple", True)
        super().__init__(*args, **kwargs)


def expand_multi_values(args: Sequence[str], names: set[str]) -> list[str]:
    out: list[str] = []
    current: str | None = None
    for arg in args:
        if arg == "--":
            current = None
        elif current is not None and not arg.startswith("-"):
            if out and out[-1] != current:
                out.append(current)
            out.append(arg)
            continue
        elif arg in names:
            current = arg
            out.append(arg)
            continue
        elif "=" in arg and arg.split("=", 1)[0] in names:
            current = arg.split("=", 1)[0]
            out.append(arg)
            continue
        else:
            current = None
        out.append(arg)
    return out


class U32(click.ParamType[int]):
    """A program or link id: an unsigned 32-bit number."""

    name = "id"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        try:
            number = int(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number", param, ctx)
        if not 0 <= number <= 0xFFFFFFFF:
            self.fail(f"{value} is out of range 0-4294967295", param, ctx)
        return number


class HelpArgument(click.Argument):
    """A positional argument that carries a help line, as clap shows them."""

    def __init__(self, *args: Any, help: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.help = help


def id_argument(name: str, help: str, many: bool = False) -> Callable[[F], F]:
    """A ``<PROGRAM_ID>``-style positional id with its help line (``many``: one or more)."""
    return click.argument(
        name,
        cls=HelpArgument,
        type=U32(),
        metavar=f"<{name.upper()}>",
        help=help,
        nargs=-1 if many else 1,
        required=True,
    )


def stacked(*decorators: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """The decorators as one, applied as if written one above the other in this order."""

    def apply(fn: Any) -> Any:
        for decorator in reversed(decorators):
            fn = decorator(fn)
        return fn

    return apply


def argument_name(param: click.Argument) -> str:
    """``<PROGRAM_ID>``, and ``<PROGRAM_ID>...`` for one that takes several."""
    name = (param.name or "arg").upper().rstrip("_")
    return f"<{name}>" + ("..." if param.nargs == -1 else "")


def cleandoc(text: str) -> str:
    """Strip a docstring's common indentation (inspect.cleandoc costs ~10 ms to import)."""
    lines = text.expandtabs().strip("\n").splitlines()
    if not lines:
        return ""
    rest = [line for line in lines[1:] if line.strip()]
    indent = min((len(line) - len(line.lstrip()) for line in rest), default=0)
    return "\n".join([lines[0].strip(), *(line[indent:] for line in lines[1:])]).strip()


def metavar(param: click.Parameter) -> str:
    """``<GLOBAL>...``: what an option takes, as ``--help`` and the man pages show it."""
    if isinstance(param, click.Option) and param.is_flag:
        return ""
    name = (param.name or "value").upper().rstrip("_")
    more = "..." if isinstance(param, MultiValueOption) else ""
    return f"<{name}>{more}"


def option_help(param: click.Option) -> str:
    """An option's help with its accepted values and default, as ``--help`` and the
    man pages show it."""
    lines = cleandoc(param.help or "").splitlines()
    if isinstance(param.type, click.Choice) and "possible values" not in (param.help or ""):
        lines += ["", f"[possible values: {', '.join(map(str, param.type.choices))}]"]
    if param.show_default and param.default is not None and not param.is_flag:
        lines += ["", f"[default: {param.default}]"]
    return "\n".join(lines)


class ClapHelp:
    """Help in the reference CLI's long form: usage with the required
    options, each option on its own line and its help verbatim below it."""

    params: list[click.Parameter]
    help: str | None

    def late_params(self) -> list[click.Parameter]:
        """On the root command: its global options, which every subcommand takes too."""
        return []

    def get_params(self, ctx: click.Context) -> list[click.Parameter]:
        """The command's parameters, then the root's global options it lacks (hidden)."""
        params = click.Command.get_params(cast(click.Command, self), ctx)
        root = ctx.find_root().command
        if ctx.parent is None or not isinstance(root, ClapHelp):
            return params
        own = {opt for param in params for opt in param.opts}
        return [*params, *(p for p in root.late_params() if own.isdisjoint(p.opts))]

    def collect_usage_pieces(self, ctx: click.Context) -> list[str]:
        pieces = ["[OPTIONS]"]
        for param in self.params:
            if isinstance(param, click.Option) and param.required:
                pieces.append(f"{param.opts[-1]} {metavar(param)}")
        for param in self.params:
            if isinstance(param, click.Argument):
                pieces.append(argument_name(param))
        if isinstance(self, click.Group):
            pieces.append(self.subcommand_metavar or "<COMMAND>")
        return pieces

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        pieces = self.collect_usage_pieces(ctx)
        formatter.write(f"Usage: {ctx.command_path} {' '.join(pieces)}\n")

    def format_help_text(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        if self.help:
            formatter.write("\n" + cleandoc(self.help) + "\n")

    def format_epilog(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The epilog as written, as clap prints its ``after_help``."""
        epilog = getattr(self, "epilog", None)
        if epilog:
            formatter.write("\n" + cleandoc(epilog) + "\n")

    def format_arguments(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """Arguments are listed by :meth:`format_options` (click >= 8.5 would repeat them)."""

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        arguments = [p for p in self.params if isinstance(p, click.Argument)]
        if arguments:
            formatter.write("\nArguments:\n")
            names = [argument_name(arg) for arg in arguments]
            width = max(len(n) for n in names) + 2
            for name, arg in zip(names, arguments, strict=True):
                text = arg.help if isinstance(arg, HelpArgument) else ""
                formatter.write(f"  {name.ljust(width)}{text}".rstrip() + "\n")
        if isinstance(self, click.Group):
            rows = []
            for name in self.list_commands(ctx):
                command = self.get_command(ctx, name)
                if command is not None and not command.hidden:
                    rows.append((name, command.get_short_help_str(limit=90)))
            if rows:
                width = max(len(name) for name, _ in rows) + 2
                formatter.write("\nCommands:\n")
                for name, text in rows:
                    formatter.write(f"  {name.ljust(width)}{text}\n")
        formatter.write("\nOptions:\n")
        for param in cast(click.Command, self).get_params(ctx):
            if not isinstance(param, click.Option) or param.hidden:
                continue
            shorts = [o for o in param.opts if not o.startswith("--")]
            longs = [o for o in param.opts if o.startswith("--")]
            head = (shorts[0] + ", " if shorts else "    ") + ", ".join(longs)
            takes = metavar(param)
            formatter.write(f"  {head}{' ' + takes if takes else ''}\n")
            for line in option_help(param).splitlines():
                formatter.write(f"          {line}".rstrip() + "\n")
            formatter.write("\n")


def refuse_negative_ids(command: click.Command, ctx: click.Context, args: list[str]) -> None:
    """``get program -1`` would read as an unknown option ``-1``: say what is wrong."""
    ids = [p for p in command.params if isinstance(p, click.Argument) and isinstance(p.type, U32)]
    if not ids:
        return
    takes_value = {
        opt
        for p in command.get_params(ctx)
        if isinstance(p, click.Option) and not p.is_flag
        for opt in p.opts + p.secondary_opts
    }
    previous = ""
    for arg in args:
        if arg == "--":
            return
        if arg[:1] == "-" and arg[1:].isdigit() and previous not in takes_value:
            raise click.UsageError(
                f"invalid value {arg!r} for '<{(ids[0].name or 'id').upper()}>': "
                "ids are unsigned numbers (0-4294967295)"
            )
        previous = arg


class BpfmanCommand(ClapHelp, click.Command):
    """A command that understands :class:`MultiValueOption` and prints clap-style help."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("context_settings", {"help_option_names": ["-h", "--help"]})
        super().__init__(*args, **kwargs)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        refuse_negative_ids(self, ctx, args)
        names = {
            opt
            for param in self.params
            if isinstance(param, MultiValueOption)
            for opt in param.opts
        }
        return super().parse_args(ctx, expand_multi_values(args, names))


class HelpCommand(BpfmanCommand):
    """``help [COMMAND]...``: the help of this group or of the named subcommand."""

    def __init__(self) -> None:
        super().__init__(
            "help",
            help="Print this message or the help of the given subcommand(s)",
            params=[click.Argument(["command"], nargs=-1, required=False)],
            callback=self._show,
        )

    def _show(self, command: tuple[str, ...]) -> None:
        ctx = click.get_current_context()
        parent = ctx.parent
        assert parent is not None
        target: click.Command = parent.command
        target_ctx = parent
        for name in command:
            found = (
                target.get_command(target_ctx, name) if isinstance(target, click.Group) else None
            )
            if found is not None:
                from .lazy import resolved

                found = resolved(found)
            if found is None:
                raise click.UsageError(f"unrecognized subcommand {name!r}", ctx=target_ctx)
            target, target_ctx = found, click.Context(found, info_name=name, parent=target_ctx)
        click.echo(target.get_help(target_ctx))


class BpfmanGroup(ClapHelp, click.Group):
    """A group with clap-style help whose commands are listed in insertion order,
    and a ``help`` subcommand as clap adds one.

    :param aliases: hidden names of commands, each mapped to the command's name
        (``list program`` is ``list programs``): one command object, two names.
    """

    command_class = BpfmanCommand

    def __init__(self, *args: Any, aliases: dict[str, str] | None = None, **kwargs: Any) -> None:
        kwargs.setdefault("context_settings", {"help_option_names": ["-h", "--help"]})
        kwargs.setdefault("subcommand_metavar", "<COMMAND>")
        super().__init__(*args, **kwargs)
        self.aliases = dict(aliases or {})

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        refuse_negative_ids(self, ctx, args)
        return super().parse_args(ctx, args)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*self.commands, "help"]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name == "help":
            return HelpCommand()
        return super().get_command(ctx, self.aliases.get(cmd_name, cmd_name))


IMAGE_URL_HELP = (
    "Required: Container Image URL.\nExample: --image-url quay.io/bpfman-bytecode/xdp_pass:latest"
)
REGISTRY_AUTH_HELP = (
    "Optional: Registry auth for authenticating with the specified image registry.\n"
    "This should be base64 encoded from the '<username>:<password>' string just like\n"
    "it's stored in the docker/podman host config.\n"
    'Example: --registry-auth "YnjrcKw63PhDcQodiU9hYxQ2"'
)


class FlagOption(click.Option):
    """An option built from a :class:`~bpfman.cli.grammar.Flag`; the ``{types}`` and
    ``{program_types}`` in its help are filled in when the help is shown."""

    _template = ""

    @property
    def help(self) -> str | None:
        return _filled(self._template) if self._template else None

    @help.setter
    def help(self, value: str | None) -> None:
        self._template = value or ""


class MultiFlagOption(FlagOption, MultiValueOption):
    pass


def _filled(text: str) -> str:
    if "{types}" in text:
        text = text.replace("{types}", ", ".join(installed_types()))
    if "{program_types}" in text:
        import textwrap

        from ..core.filters import type_names_text

        values = f"[possible values: {type_names_text(installed_types())}]"
        text = text.replace(
            "{program_types}", textwrap.fill(values, width=80, break_on_hyphens=False)
        )
    return text


def installed_types() -> list[str]:
    """Every installed program type, third-party ones too: the plugins' entry points.

    Read from the root's cache, as commands find them, so help stays cheap.
    """
    from ..core.bpffs import Layout
    from ..core.root import default_root
    from ..discovery import discover

    ctx = click.get_current_context(silent=True)
    root = ctx.find_root().params.get("root") if ctx is not None else None
    return sorted(discover(Layout(Path(root or default_root())).plugins_cache))


def flag_option(flag: Flag, **overrides: Any) -> click.Option:
    """The click option of ``flag`` (``overrides`` as click takes them: callbacks...)."""
    cls, kwargs = _option_args(flag, overrides)
    return cls([*flag.opts, flag.dest], **kwargs)


def flag_options(
    *flags: Flag, callbacks: Mapping[str, Callable[..., Any]] | None = None
) -> Callable[[F], F]:
    """A decorator adding the click options of ``flags``, listed in their order.

    :param callbacks: click callbacks by the flags' ``dest``.
    """

    def decorator(fn: F) -> F:
        for flag in reversed(flags):
            callback = (callbacks or {}).get(flag.dest)
            cls, kwargs = _option_args(flag, {"callback": callback} if callback else {})
            fn = click.option(*flag.opts, flag.dest, cls=cls, **kwargs)(fn)
        return fn

    return decorator


def _option_args(flag: Flag, overrides: dict[str, Any]) -> tuple[type[FlagOption], dict[str, Any]]:
    """The option class and click's keywords for ``flag`` (only what it sets: click
    reads an explicit ``is_flag=False`` as a value that may be left out)."""
    kwargs: dict[str, Any] = {"help": flag.help, "required": flag.required}
    if flag.envvar:
        kwargs["envvar"] = flag.envvar
    if flag.metavar:
        kwargs["metavar"] = flag.metavar
    if flag.takes == "flag":
        kwargs["is_flag"] = True
    if flag.takes == "each":
        kwargs["multiple"] = True
    if flag.kind == "id":
        kwargs["type"] = U32()
    if flag.choices:
        kwargs["type"] = click.Choice(flag.choices)
    if flag.default is not None:
        kwargs.update(default=flag.default, show_default=True)
    kwargs.update(overrides)
    return (MultiFlagOption if flag.takes == "many" else FlagOption), kwargs


output_option = flag_options(OUTPUT)
