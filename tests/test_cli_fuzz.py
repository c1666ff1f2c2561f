"""Hundreds of generated bad CLI inputs: one clear line each, nothing left behind.

Every command of the CLI is taken with valid arguments, then each argument in
turn is replaced by hostile values (empty, negative, huge, not UTF-8, paths
to devices and directories, names of other namespaces...), options are
dropped, repeated or invented. Each input runs through the real entry point
in this process (the same code as the ``bpfman`` script, without paying an
interpreter start per case); none may end in an internal error, and after
each the records, the pins and the kernel are as they were.
"""

from __future__ import annotations

import itertools
import os
import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from bpfman.cli.entry import main
from bpfman.core.manager import Bpfman
from bpfman.core.state import _OPEN
from tests.helpers.consistency import kernel_programs, pins, state
from tests.helpers.root import Root

INTERNAL_ERROR = 70
BAD_VALUES = [
    "",
    "-1",
    "0",
    "4294967296",
    "18446744073709551616",
    "abc",
    "9" * 40,
    "\udcff\udcfe",
    "x" * 4096,
    " ",
    "-",
    "--",
    "/dev/zero",
    "/etc/hostname",
    "/tmp",
    "/nonexistent/path",
    "../../etc/passwd",
    "%s%n%x",
    "0x10",
    "lo",
    "a=b=c",
    "=",
    "k=",
    "tc:",
    ":f",
    "xdp:f:g:h",
    "1.5",
    "@",
    "user:secret@127.0.0.1:1/x/y:z",
]
NAMES = {"tracepoint_counter", "xdp_chain", "tc_chain", "tcx_chain", "uprobe_counter"}


@pytest.fixture
def ids(root: Root, objects: Path) -> Iterator[dict[str, int]]:
    with Bpfman(root.path) as mgr:
        [tp] = mgr.load_file(
            objects / "tracepoint_counter.bpf.o", ["tracepoint:tracepoint_counter"]
        )
        link = mgr.attach(tp.id, {"tracepoint": "syscalls/sys_enter_getppid"})
        [xdp] = mgr.load_file(
            objects / "xdp_chain.bpf.o",
            ["xdp:xdp_chain"],
            globals={"prog_slot": bytes(4), "verdict": bytes(4)},
        )
    yield {"tp": tp.id, "link": link.id, "xdp": xdp.id}


def templates(ids: dict[str, int], objects: Path) -> list[list[str]]:
    tp, link, xdp = str(ids["tp"]), str(ids["link"]), str(ids["xdp"])
    obj = str(objects / "tracepoint_counter.bpf.o")
    return [
        ["load", "file", "-p", obj, "--programs", "tracepoint:tracepoint_counter"],
        [
            "load",
            "file",
            "-p",
            obj,
            "--programs",
            "tracepoint:tracepoint_counter",
            "-g",
            "increment=01000000",
        ],
        [
            "load",
            "file",
            "-p",
            obj,
            "--programs",
            "tracepoint:tracepoint_counter",
            "-m",
            "k=v",
            "-a",
            "app",
        ],
        [
            "load",
            "file",
            "-p",
            obj,
            "--programs",
            "tracepoint:tracepoint_counter",
            "--map-owner-id",
            tp,
        ],
        ["load", "image", "-i", "127.0.0.1:1/x/y:z", "--programs", "xdp:f", "-p", "Never"],
        ["load", "image", "-i", "127.0.0.1:1/x/y:z", "--programs", "xdp:f", "-r", "dXNlcjpwYXNz"],
        ["attach", tp, "tracepoint", "-t", "syscalls/sys_enter_getpid"],
        ["attach", xdp, "xdp", "-i", "lo", "-p", "10", "--proceed-on", "pass"],
        ["attach", xdp, "xdp", "-i", "lo", "-p", "10", "-n", "/proc/self/ns/net"],
        ["attach", tp, "tc", "-d", "ingress", "-i", "lo", "-p", "10"],
        ["attach", tp, "tcx", "-d", "egress", "-i", "lo", "-p", "10"],
        ["attach", tp, "kprobe", "-f", "do_unlinkat", "-o", "0"],
        ["attach", tp, "uprobe", "-t", "libc", "-f", "malloc", "-p", "1"],
        ["attach", tp, "fentry"],
        ["attach", tp, "tracepoint", "-t", "syscalls/sys_enter_getpid", "-m", "k=v"],
        ["detach", "4294967295"],
        ["get", "link", "4294967295"],
        ["unload", "4294967295"],
        ["get", "program", tp],
        ["get", "link", link],
        ["list", "programs", "-p", "xdp"],
        ["list", "programs", "--application", "app", "-m", "k=v"],
        ["list", "links", "-p", "tracepoint", "-o", "json"],
        ["list", "programs", "--all", "-o", "table"],
        ["image", "generate-build-args", "-b", obj],
        ["image", "pull", "-i", "127.0.0.1:1/x/y:z", "-p", "Never"],
    ]


def cases(ids: dict[str, int], objects: Path) -> Iterator[list[str]]:
    """Each argument of each template replaced by each bad value, and more."""
    rng = random.Random(20261201)
    for template in templates(ids, objects):
        positions = range(1, len(template))
        for at in positions:
            for value in rng.sample(BAD_VALUES, 4):
                yield [*template[:at], value, *template[at + 1 :]]
        yield template[:-1]  # a value missing
        yield [*template, "--no-such-option"]
        yield [*template, template[-1]]  # a stray extra argument
        yield [*template[:2], *template[3:]]  # an argument dropped
    for a, b in itertools.islice(itertools.combinations(BAD_VALUES, 2), 40):
        yield [a, b]


def _snapshot(root: Root) -> tuple[set[int], set[int], set[str]]:
    snap = state(root.path)
    return set(snap.programs), set(snap.links), pins(root.path / "fs")


def _undo(root: Root, before: tuple[set[int], set[int], set[str]]) -> None:
    """An input that happened to be valid is undone, so the next starts alike."""
    programs, links, _ = _snapshot(root)
    with Bpfman(root.path) as mgr:
        for link in links - before[1]:
            mgr.detach(link)
        for prog in programs - before[0]:
            mgr.unload(prog)


def _each_reported(args: list[str], err: str) -> bool:
    """``unload``/``detach`` of several ids: a line per failed id, then their count."""
    lines = err.splitlines()
    return (
        args[:1] in (["unload"], ["detach"])
        and all(line.startswith("Error: ") for line in lines)
        and " of " in lines[-1]
        and lines[-1].endswith(("were not unloaded", "were not detached"))
    )


def test_hundreds_of_bad_inputs_give_one_line_and_leave_nothing(
    root: Root, objects: Path, ids: dict[str, int], capfd: pytest.CaptureFixture[str]
) -> None:
    os.environ["BPFMAN_ROOT"] = str(root.path)
    try:
        before = _snapshot(root)
        kernel_before = set(kernel_programs(NAMES))
        problems: list[str] = []
        count = 0
        for args in cases(ids, objects):
            count += 1
            code = main(args)
            _, err = capfd.readouterr()
            if code == INTERNAL_ERROR or "Traceback" in err or "internal error" in err:
                problems.append(f"{args!r}: {err.strip()[:300]}")
            elif code != 0 and err.count("\n") != 1 and not _each_reported(args, err):
                problems.append(f"{args!r}: not one line: {err!r}")
            if code == 0:  # the input happened to be valid: undo what it added
                _undo(root, before)
                before = _snapshot(root)
                continue
            after = _snapshot(root)
            if after != before:
                problems.append(f"{args!r}: failed but changed {after} (had {before})")
                _undo(root, before)
                before = _snapshot(root)
        leaked = set(kernel_programs(NAMES)) - kernel_before - before[0]
        assert not leaked, f"programs left in the kernel: {leaked}"
        assert problems == []
        assert count >= 300
        assert os.path.realpath(root.path / "db") not in _OPEN  # every command closed its store
    finally:
        del os.environ["BPFMAN_ROOT"]
