"""The click-free parser of plain ``list`` and ``load file`` invocations (pure logic)."""

from __future__ import annotations

import click
import pytest

from bpfman.cli.fast import _COMMANDS, _GLOBAL, _LIST_LINKS, _LIST_PROGRAMS, _LOAD_FILE, parse, run


def test_plain_invocations_parse() -> None:
    args = ["-p", "x.o", "--programs", "a:b", "c:d", "-m", "k=v", "-m", "j=w", "-g", "G=01"]
    assert parse(args, _LOAD_FILE) == {
        "path": "x.o",
        "programs": ["a:b", "c:d"],
        "metadata": ["k=v", "j=w"],
        "global_": ["G=01"],
    }
    assert parse(["-a", "-p", "xdp"], _LIST_PROGRAMS) == {"all_": True, "program_type": "xdp"}
    assert parse([], _LIST_PROGRAMS) == {}
    args = ["-q", "--attached", "-l", "a=b", "-l", "c!=d", "--unattached"]
    assert parse(args, _LIST_PROGRAMS) == {
        "quiet": True,
        "attached": True,
        "unattached": True,  # App refuses the pair, in the words the full CLI uses
        "selector": ["a=b", "c!=d"],
    }
    args = ["--program-id", "7", "--kind", "xdp,tc", "--kind", "tcx", "--quiet"]
    assert parse(args, _LIST_LINKS) == {
        "program_id": 7,
        "kind": ["xdp,tc", "tcx"],
        "quiet": True,
    }


def test_both_spellings_take_the_fast_path() -> None:
    """Every spelling of a command the fast path serves has its table (the same one)."""
    assert _COMMANDS[("program", "list")] is _COMMANDS[("list", "programs")] is _LIST_PROGRAMS
    assert _COMMANDS[("link", "list")] is _COMMANDS[("list", "link")] is _LIST_LINKS
    assert _COMMANDS[("program", "load", "file")] is _LOAD_FILE


@pytest.mark.parametrize(
    "args",
    [
        ["--path=x.o", "--programs", "a:b"],  # the = form
        ["-p", "x.o", "-p", "y.o"],  # repeated
        ["-p"],  # missing value
        ["-p", "-x"],  # a flag where the value should be
        ["--programs"],  # no words
        ["-v"],  # unknown here
        ["-h"],  # help belongs to the full CLI
        ["stray"],  # an extra argument
    ],
)
def test_anything_else_goes_to_the_full_cli(args: list[str]) -> None:
    assert parse(list(args), _LOAD_FILE) is None


def test_a_flag_takes_no_value() -> None:
    assert parse(["-a", "extra"], _LIST_PROGRAMS) is None


@pytest.mark.parametrize(
    "argv",
    [
        ["--root", "", "list", "programs"],  # the full CLI refuses an empty root
        ["load", "file", "-p", "x.o", "--programs", "a:b", "--map-owner-id", "9" * 5000],
        ["load", "file", "-p", "x.o", "--programs", "a:b", "--map-owner-id", "4294967296"],
        ["load", "file", "--programs", "a:b"],  # no path
        ["list", "programs", "-o", "yaml"],
        ["list", "links", "--program-id", "-1"],  # click explains the id
        ["list", "links", "--program-id", "4294967296"],
        ["--runtime-dir", "", "list", "programs"],
        ["program", "load", "file", "--programs", "a:b"],  # no path
    ],
)
def test_run_leaves_these_to_the_full_cli(argv: list[str]) -> None:
    assert run(argv) is None


@pytest.mark.parametrize("path", sorted(_COMMANDS))
def test_the_fast_path_takes_exactly_the_full_clis_flags(path: tuple[str, ...]) -> None:
    """Both parsers are built from bpfman/cli/grammar.py: same spellings, same destinations."""
    from bpfman.cli.main import cli

    command: click.Command | None = cli
    for word in path:
        assert isinstance(command, click.Group)
        command = command.get_command(click.Context(command), word)
    assert command is not None
    root = [p for p in cli.params if isinstance(p, click.Option) and p.opts[0] != "-V"]
    full = {
        opt: (param.name, param.is_flag, param.multiple)
        for param in [*command.params, *root]
        if isinstance(param, click.Option) and not param.hidden
        for opt in param.opts
    }
    fast = {
        opt: (flag.dest, flag.takes == "flag", flag.takes in ("each", "many"))
        for opt, flag in {**_COMMANDS[path], **_GLOBAL}.items()
    }
    assert full == fast
