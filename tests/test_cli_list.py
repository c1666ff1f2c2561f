"""``list programs|links`` filters, ``--all`` and programs bpfman did not load."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.chains import attach_tcx
from tests.helpers.net import VethPair
from tests.helpers.root import Root


def ids(rows: Any) -> set[int]:
    return {row["id"] for row in rows}


@pytest.fixture
def loaded(root: Root, objects: Path, pair: VethPair) -> dict[str, int]:
    """A tracepoint, a tcx and a uprobe program, each attached once."""
    tp = root.load_id(
        objects / "tracepoint_counter.bpf.o",
        "--programs",
        "tracepoint:tracepoint_counter",
        "-a",
        "tp-app",
        "-m",
        "owner=acme,team=blue",
    )
    tcx = root.load_id(
        objects / "tcx_chain.bpf.o",
        "--programs",
        "tcx:tcx_chain",
        "--application",
        "net-app",
        "--metadata",
        "owner=acme",
    )
    up = root.load_id(objects / "uprobe_counter.bpf.o", "--programs", "uprobe:uprobe_counter")
    root.run("attach", tp, "tracepoint", "-t", "syscalls/sys_enter_getppid", "-m", "env=prod")
    attach_tcx(root, tcx, pair.if_b, pair.netns_path_b, 5, "-m", "env=dev")
    root.run("attach", up, "uprobe", "-t", "libc", "-f", "getpid")
    return {"tp": tp, "tcx": tcx, "up": up}


def test_list_filters_and_hidden_aliases(root: Root, loaded: dict[str, int]) -> None:
    """One set of loaded programs serves every filter check (setup is the slow part)."""
    check_program_filters(root, loaded)
    check_link_filters(root, loaded)
    check_hidden_aliases(root)


def check_program_filters(root: Root, loaded: dict[str, int]) -> None:
    tp, tcx, up = loaded["tp"], loaded["tcx"], loaded["up"]
    assert ids(root.json("list", "programs")) == {tp, tcx, up}
    assert ids(root.json("list", "programs", "--program-type", "tracepoint")) == {tp}
    assert ids(root.json("list", "programs", "--program-type", "tc")) == {tcx}
    assert ids(root.json("list", "programs", "-p", "probe")) == {up}
    assert ids(root.json("list", "programs", "--program-type", "xdp")) == set()
    assert ids(root.json("list", "programs", "--application", "tp-app")) == {tp}
    assert ids(root.json("list", "programs", "--application", "nobody")) == set()
    assert ids(root.json("list", "programs", "--metadata-selector", "owner=acme")) == {tp, tcx}
    assert ids(root.json("list", "programs", "--metadata-selector", "owner=acme,team=blue")) == {tp}
    assert ids(root.json("list", "programs", "-m", "owner=acme", "-m", "team=blue")) == {tp}
    assert ids(root.json("list", "programs", "-m", "bpfman_application=net-app")) == {tcx}
    rows: Any = root.json("list", "programs")
    assert {r["id"]: r["type"] for r in rows} == {tp: "tracepoint", tcx: "tcx", up: "uprobe"}
    assert {r["id"]: r["application"] for r in rows} == {tp: "tp-app", tcx: "net-app", up: None}


def check_link_filters(root: Root, loaded: dict[str, int]) -> None:
    tp, tcx, up = loaded["tp"], loaded["tcx"], loaded["up"]

    def progs(*args: str) -> set[int]:
        rows: Any = root.json("list", "links", *args)
        return {row["program_id"] for row in rows}

    assert progs() == {tp, tcx, up}
    assert progs("--program-type", "tc") == {tcx}
    assert progs("-p", "probe") == {up}
    assert progs("-p", "tracepoint") == {tp}
    assert progs("--application", "net-app") == {tcx}
    assert progs("--metadata-selector", "owner=acme") == {tp, tcx}
    assert progs("--metadata-selector", "env=prod") == {tp}  # link metadata counts too
    assert progs("-m", "env=dev,owner=acme") == {tcx}


def check_hidden_aliases(root: Root) -> None:
    assert root.run("list", "program").stdout == root.run("list", "programs").stdout
    assert root.run("list", "link").stdout == root.run("list", "links").stdout
    help_text = root.run("list", "--help").stdout
    commands = help_text.split("Commands:")[1].split("Options:")[0]
    assert [line.split()[0] for line in commands.strip().splitlines()] == [
        "programs",
        "links",
        "help",
    ]


def test_list_all_shows_programs_bpfman_did_not_load(
    root: Root, objects: Path, foreign: int
) -> None:
    mine = root.load_id(
        objects / "tracepoint_counter.bpf.o",
        "--programs",
        "tracepoint:tracepoint_counter",
        "-a",
        "x",
    )
    assert ids(root.json("list", "programs")) == {mine}
    everything: Any = root.json("list", "programs", "--all")
    rows = {row["id"]: row for row in everything}
    assert {mine, foreign} <= set(rows)
    assert rows[foreign]["managed"] is False
    assert rows[foreign]["type"] == "tracepoint"
    assert rows[foreign]["application"] is None
    assert rows[mine]["managed"] is True
    assert foreign in ids(root.json("list", "programs", "--all", "--program-type", "tracepoint"))
    assert foreign not in ids(root.json("list", "programs", "--all", "--program-type", "tc"))
    assert ids(root.json("list", "programs", "--all", "--application", "x")) == {mine}
    table = root.run("list", "programs", "--all").stdout
    line = next(ln for ln in table.splitlines() if ln.split()[0] == str(foreign))
    assert line.split() == [str(foreign), "tracepoint", "tracepoint_counter"]

    # get program of a foreign program: only the Kernel State block.
    shown = root.run("get", "program", foreign).stdout
    assert "Bpfman State" not in shown
    assert shown.splitlines()[0] == " Kernel State"
    assert f" Program ID:                       {foreign}" in shown
    detail: Any = root.json("get", "program", foreign)
    assert set(detail) == {"id", "kernel"}

    # bpfman refuses to manage it.
    message = root.fail("unload", foreign)
    assert "not managed by bpfman" in message
    assert subprocess.run(["bpftool", "prog", "show", "id", str(foreign)]).returncode == 0
