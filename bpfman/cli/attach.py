"""``bpfman attach ID TYPE``: each type's subcommand, built from its declaration.

Every option comes from a field of the type's params dataclass
(:mod:`bpfman.core.fields`): its flags, help, choices (a ``Literal`` type),
range and default, so no plugin imports click. A type whose command line
needs more names a click command of its own (``ProgramType.attach_command``)
whose callback returns the params. Either way the CLI adds ``--metadata`` and
``--output``, builds the params and attaches.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import click
from click.shell_completion import CompletionItem

from ..core.contract import AttachParams, ProgramType
from ..core.fields import Declared, declared
from ..errors import PluginError
from ..inputs import parse_key_values
from .app import App
from .options import BpfmanCommand, MultiValueOption

METADATA_HELP = (
    "Optional: Specify Key/Value metadata to be attached to a link when it\n"
    "is loaded by bpfman.\nFormat: <KEY>=<VALUE>\n\n"
    "This can later be used to list a certain subset of links which contain\n"
    "the specified metadata.\nExample: --metadata owner=acme"
)


def attach_command(ptype: ProgramType) -> click.Command:
    """The ``attach <PROGRAM_ID> <NAME>`` subcommand of ``ptype``."""
    if ptype.attach_command:
        custom = _custom(ptype)
        assert custom.callback is not None  # checked by _custom
        options, build, text = list(custom.params), custom.callback, custom.help
    else:
        options, text = attach_options(ptype.params), ptype.attach_help

        def build(**flags: Any) -> AttachParams:
            given = {name: value for name, value in flags.items() if value not in (None, ())}
            return ptype.params(**given)

    def callback(metadata: tuple[str, ...], output: str | None, **flags: Any) -> None:
        ctx = click.get_current_context()
        params = build(**flags)
        parent = ctx.parent
        app = ctx.find_object(App)
        assert parent is not None and app is not None
        if output is not None:
            app.output = output
        app.attach(parent.params["program_id"], params, parse_key_values(metadata))

    options.append(click.Option(["-m", "--metadata"], multiple=True, help=METADATA_HELP))
    # Long form only: -o is --offset for the probe types.
    options.append(
        click.Option(
            ["--output"],
            type=click.Choice(["table", "json"]),
            help="Optional: Output format of the new link; json is for scripts.",
        )
    )
    return BpfmanCommand(ptype.name, callback=callback, params=options, help=text)


def attach_options(params: type[AttachParams]) -> list[click.Parameter]:
    """A click option per declared field, in the order ``--help`` lists them (bpfctl's
    probe subcommands take them too)."""
    by_name = {option.name: option for option in declared(params)}
    order = params.cli_order or tuple(by_name)
    return [_option(by_name[name]) for name in order]


def _option(option: Declared) -> click.Option:
    assert option.spec is not None  # every option is declared (checked at plugin load)
    spec = option.spec
    decls = [*option.flags, option.name]
    kwargs: dict[str, Any] = {"help": spec.help, "required": option.required}
    if spec.show_default:
        kwargs.update(default=option.default, show_default=True)
    if option.many:
        return MultiValueOption(decls, shell_complete=_completing(option.choices), **kwargs)
    if option.kind is bool:
        kwargs["is_flag"] = True
    elif option.choices:
        kwargs["type"] = click.Choice(option.choices)
    elif option.kind is int:
        kwargs["type"] = click.IntRange(*spec.range) if spec.range else click.INT
    return click.Option(decls, **kwargs)


def _completing(
    choices: tuple[str, ...],
) -> Callable[[click.Context, click.Parameter, str], list[CompletionItem]] | None:
    """Completion of a multi-valued option's choices (click completes a Choice itself)."""
    if not choices:
        return None
    return lambda ctx, param, incomplete: [
        CompletionItem(name) for name in choices if name.startswith(incomplete)
    ]


def _custom(ptype: ProgramType) -> click.Command:
    """The click command a type names in ``attach_command`` (``module:attr``)."""
    module, _, attr = ptype.attach_command.partition(":")
    try:
        found: object = importlib.import_module(module)
        for part in attr.split("."):
            found = getattr(found, part)
    except (ImportError, AttributeError, ValueError) as exc:
        raise PluginError(
            f"type {ptype.name!r}: cannot import its attach_command {ptype.attach_command!r}: {exc}"
        ) from exc
    if not isinstance(found, click.Command) or found.callback is None:
        raise PluginError(
            f"type {ptype.name!r}: attach_command {ptype.attach_command!r} is not a click command"
        )
    return found
