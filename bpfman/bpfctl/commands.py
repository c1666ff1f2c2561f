"""The guide's help conventions, and the hook subcommands of the load commands.

``xdp``, ``tc``, ``tracepoint``, ``kprobe`` and ``uprobe`` are each one click
command under both ``load-from-file`` and ``load-from-image``: they turn their
flags into a :class:`~.model.Hook` and run the load-and-attach step with the
:class:`~.model.Load` their parent built. xdp and tc have the guide's options;
tracepoint, kprobe and uprobe those of ``bpfman attach``'s subcommands (the
guide shows none), plus ``-r`` for the probes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from bpfman.cli.attach import attach_options
from bpfman.cli.options import BpfmanCommand, BpfmanGroup, ClapHelp, MultiValueOption
from bpfman.core.contract import AttachParams
from bpfman.dispatcher import TC, XDP, Flavour
from bpfman.plugins.kprobe.options import KprobeParams
from bpfman.plugins.tracepoint.options import TracepointParams
from bpfman.plugins.uprobe.options import UprobeParams

from .backends import Client
from .model import Hook, Load
from .transaction import held_signals, load_and_attach


def usage_path(ctx: click.Context) -> str:
    """The command path as clap's usage writes it: with the parent's required options."""
    parent = ctx.parent
    if parent is None or not isinstance(parent.command, BpfmanGroup):
        return ctx.command_path
    skip = ("[OPTIONS]", parent.command.subcommand_metavar)
    required = [p for p in parent.command.collect_usage_pieces(parent) if p not in skip]
    return " ".join([parent.command_path, *required, str(ctx.info_name)])


class GuideHelp(ClapHelp, click.Command):
    """clap's conventions, as the guide shows them, on top of bpfman's clap-style help:
    the help flag's text, ``-h`` before ``-V``, usage lines naming the parent's
    required options, and no ``[OPTIONS]`` where there are none but those two."""

    def get_help_option(self, ctx: click.Context) -> click.Option | None:
        option = super().get_help_option(ctx)
        if option is not None:
            long = any("\n" in (getattr(p, "help", None) or "") for p in self.params)
            option.help = "Print help (see a summary with '-h')" if long else "Print help"
        return option

    def get_params(self, ctx: click.Context) -> list[click.Parameter]:
        params = super().get_params(ctx)
        return sorted(params, key=lambda p: "--version" in getattr(p, "opts", ()))

    def collect_usage_pieces(self, ctx: click.Context) -> list[str]:
        pieces = super().collect_usage_pieces(ctx)
        if not any(
            isinstance(p, click.Option) and not p.hidden and "--version" not in p.opts
            for p in self.params
        ):
            pieces.remove("[OPTIONS]")
        return pieces

    def format_usage(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        formatter.write(f"Usage: {usage_path(ctx)} {' '.join(self.collect_usage_pieces(ctx))}\n")


class GuideCommand(GuideHelp, BpfmanCommand):
    """A bpfctl command."""


class GuideGroup(GuideHelp, BpfmanGroup):
    """A bpfctl group of :class:`GuideCommand` s."""

    command_class = GuideCommand


class LoadGroup(GuideGroup):
    """``load-from-*``: ``-g A=1 B=2`` takes every word up to the next flag, as clap does,
    and ``load-from-file xdp --help`` shows xdp's help without ``--path`` and ``--name``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        from bpfman.cli.options import expand_multi_values

        names = {o for p in self.params if isinstance(p, MultiValueOption) for o in p.opts}
        args = expand_multi_values(args, names)
        wanted = self._help_of(args)
        if wanted is not None:
            command = self.get_command(ctx, wanted)
            if command is not None:
                click.echo(command.get_help(click.Context(command, info_name=wanted, parent=ctx)))
                ctx.exit()
        return super().parse_args(ctx, args)

    def _help_of(self, args: list[str]) -> str | None:
        """The subcommand whose help ``args`` ask for, if they do."""
        takes_value = {
            o for p in self.params if isinstance(p, click.Option) and not p.is_flag for o in p.opts
        }
        at = 0
        while at < len(args) and args[at].startswith("-"):
            at += 2 if args[at] in takes_value else 1
        rest = args[at + 1 :]
        return args[at] if at < len(args) and ("-h" in rest or "--help" in rest) else None


def hook_command(
    name: str, help: str, params: list[click.Parameter], build: Callable[..., Hook]
) -> click.Command:
    """A subcommand that turns its flags into a :class:`Hook` with ``build``, then
    loads, attaches and prints the new id."""

    def callback(**flags: Any) -> None:
        ctx = click.get_current_context()
        hook = build(**flags)
        load = ctx.find_object(Load)
        client = ctx.find_object(Client)
        assert load is not None and client is not None
        backend = client.backend
        with held_signals():
            click.echo(load_and_attach(backend, load, hook))

    return GuideCommand(name, callback=callback, params=params, help=help)


def guide_hook(name: str, help: str) -> Callable[[Callable[..., Hook]], click.Command]:
    """:func:`hook_command` from ``fn(**flags) -> Hook`` and its click decorators."""

    def decorator(fn: Callable[..., Hook]) -> click.Command:
        return hook_command(name, help, list(reversed(getattr(fn, "__click_params__", []))), fn)

    return decorator


def bpfman_hook(
    name: str, help: str, declared: type[AttachParams], retprobe: str = ""
) -> click.Command:
    """:func:`hook_command` with the options of ``bpfman attach ID <name>`` (its type's
    declared ones, without ``attach``'s metadata and output flags), and ``-r`` for the
    probe types.

    The flags are the type's attach options under their own names; unset ones
    keep the type's defaults.
    """
    params = attach_options(declared)
    if retprobe:
        help_text = (
            f"Optional: Whether the program is a {retprobe}.\n"
            f"The program's ELF section decides ({retprobe}/...): -r must agree with it.\n\n"
            "[default: false]"
        )
        params.append(click.Option(["-r", "--retprobe"], is_flag=True, help=help_text))

    def build(retprobe: bool | None = None, **flags: Any) -> Hook:
        return Hook(name, {k: v for k, v in flags.items() if v is not None}, retprobe)

    return hook_command(name, help, params, build)


PRIORITY_HELP = "Required: Priority to run program in chain. Lower value runs first"
IFACE_HELP = "Required: Interface to load program on"


def proceed_on(flavour: Flavour, example: str) -> Callable[[Any], Any]:
    values = ", ".join(flavour.actions)
    return click.option(
        "--proceed-on",
        cls=MultiValueOption,
        type=click.Choice(list(flavour.actions)),
        help="Optional: Proceed to call other programs in chain on this exit code.\n"
        "Multiple values supported by repeating the parameter.\n"
        f"Example: {example}\n\n[possible values: {values}]\n\n"
        f"[default: {', '.join(flavour.default_proceed_on)}]",
    )


@guide_hook("xdp", "Install an eBPF program on the XDP hook point for a given interface")
@click.option("-i", "--iface", required=True, help=IFACE_HELP)
@click.option("-p", "--priority", required=True, type=click.IntRange(1, 1000), help=PRIORITY_HELP)
@proceed_on(XDP, '--proceed-on "pass" --proceed-on "drop"')
def xdp(iface: str, priority: int, proceed_on: tuple[str, ...]) -> Hook:
    return Hook("xdp", {"iface": iface, "priority": priority, "proceed_on": list(proceed_on)})


@guide_hook("tc", "Install an eBPF program on the TC hook point for a given interface")
@click.option(
    "-d",
    "--direction",
    required=True,
    type=click.Choice(["ingress", "egress"]),
    help="Required: Direction to apply program.",
)
@click.option("-i", "--iface", required=True, help=IFACE_HELP)
@click.option("-p", "--priority", required=True, type=click.IntRange(1, 1000), help=PRIORITY_HELP)
@proceed_on(TC, '--proceed-on "ok" --proceed-on "pipe"')
def tc(direction: str, iface: str, priority: int, proceed_on: tuple[str, ...]) -> Hook:
    params = {"direction": direction, "iface": iface, "priority": priority}
    return Hook("tc", {**params, "proceed_on": list(proceed_on)})


tracepoint = bpfman_hook("tracepoint", "Install an eBPF program on a Tracepoint", TracepointParams)
kprobe = bpfman_hook("kprobe", "Install an eBPF kprobe or kretprobe", KprobeParams, "kretprobe")
uprobe = bpfman_hook("uprobe", "Install an eBPF uprobe or uretprobe", UprobeParams, "uretprobe")
HOOK_COMMANDS = (xdp, tc, tracepoint, kprobe, uprobe)
