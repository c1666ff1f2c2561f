"""The click-free parser of plain ``list`` and ``load file`` invocations (pure logic)."""

from __future__ import annotations

import click
import pytest

from bpfman.cli.fast import _COMMANDS, _GLOBAL, _LIST_PROGRAMS, _LOAD_FILE, parse, run


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
    ],
)
def test_run_leaves_these_to_the_full_cli(argv: list[str]) -> None:
    assert run(argv) is None


@pytest.mark.parametrize("path", sorted(_COMMANDS))
def test_the_fast_path_takes_exactly_the_full_clis_flags(path: tuple[str, str]) -> None:
    """Both parsers are built from bpfman/cli/grammar.py: same spellings, same destinations."""
    from bpfman.cli.main import cli

    group = cli.commands[path[0]]
    assert isinstance(group, click.Group)
    command = group.commands[path[1]]
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
