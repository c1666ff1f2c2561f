"""Tracepoint programs through the real CLI: globals change what the program counts.

The counter program adds ``increment`` per getppid() of ``target_pid``; both are
set with ``-g`` at load, and the map is read from its bpffs pin with bpftool.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.helpers.bpftool import links_of, map_values, prog_ids, prog_show
from tests.helpers.root import Root, le32, load_counter
from tests.helpers.wait import eventually

TRACEPOINT = "syscalls/sys_enter_getppid"
CALLS = 25


def counts(root: Root, owner_id: int) -> int:
    return map_values(str(root.maps(owner_id) / "counts")).get(0, 0)


def call_getppid(times: int) -> None:
    for _ in range(times):
        os.getppid()


def test_tracepoint_counts_with_globals_detach_and_unload(root: Root, objects: Path) -> None:
    loaded = root.load(
        objects / "tracepoint_counter.bpf.o",
        "--programs",
        "tracepoint:tracepoint_counter",
        "-g",
        f"target_pid={le32(os.getpid())}",
        "increment=03000000",
    )
    assert len(loaded) == 1
    prog_id = loaded[0]["id"]
    assert loaded[0]["bpfman"]["globals"] == {
        "target_pid": le32(os.getpid()),
        "increment": "03000000",
    }
    assert prog_show(prog_id)["type"] == "tracepoint"

    link = root.attach(prog_id, "tracepoint", "-t", TRACEPOINT)
    assert link["attachment"] == TRACEPOINT
    assert (root.path / "fs" / "links" / str(link["id"])).exists()

    call_getppid(CALLS)
    assert counts(root, prog_id) == CALLS * 3

    # Another process is not target_pid: the global filters it out.
    code = f"import os\nfor _ in range({CALLS}): os.getppid()"
    subprocess.run([sys.executable, "-c", code], check=True)
    assert counts(root, prog_id) == CALLS * 3

    assert len(links_of(prog_id)) == 1
    root.run("detach", link["id"])
    assert eventually(lambda: not links_of(prog_id))
    assert prog_id in prog_ids()
    assert not (root.path / "fs" / "links" / str(link["id"])).exists()
    assert root.json("list", "links") == []
    call_getppid(CALLS)
    assert counts(root, prog_id) == CALLS * 3

    root.run("unload", prog_id)
    assert eventually(lambda: prog_id not in prog_ids())
    assert not (root.path / "fs" / f"prog_{prog_id}").exists()
    assert not root.maps(prog_id).exists()
    assert root.json("list", "programs") == []


def test_tracepoint_default_globals_count_one_per_call(root: Root, objects: Path) -> None:
    """Without -g the program keeps its compiled defaults (all pids, +1)."""
    prog_id = load_counter(root, objects)
    root.run("attach", prog_id, "tracepoint", "--tracepoint", TRACEPOINT)
    before = counts(root, prog_id)
    call_getppid(CALLS)
    # Everyone counts now, so other processes may add a few calls of their own.
    assert counts(root, prog_id) - before >= CALLS
    shown = root.run("get", "program", prog_id).stdout
    assert " Global:        None" in shown
    root.run("unload", prog_id)
    assert eventually(lambda: prog_id not in prog_ids())
