"""State under concurrency and map-owner chains, through the real CLI."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from tests.helpers.bpftool import find_map_id
from tests.helpers.root import BPFMAN, REPO, Root, load_counter

TRACEPOINT = "tracepoint:tracepoint_counter"


def _bpf_mounts(path: Path) -> int:
    with open("/proc/self/mountinfo") as f:
        return sum(
            1
            for line in f
            if line.split()[4] == str(path) and line.partition(" - ")[2].startswith("bpf ")
        )


def test_concurrent_first_commands_mount_one_bpffs(root: Root, objects: Path) -> None:
    obj = objects / "tracepoint_counter.bpf.o"
    procs = [
        subprocess.Popen(
            [*BPFMAN, "load", "file", "-p", str(obj), "--programs", TRACEPOINT],
            env=root.env,
            cwd=REPO,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(6)
    ]
    errors = [p.communicate()[1] for p in procs]
    assert all(p.returncode == 0 for p in procs), errors
    assert _bpf_mounts(root.path / "fs") == 1
    programs = root.json("list", "programs")
    assert isinstance(programs, list) and len(programs) == 6
    assert len(list((root.path / "fs").glob("prog_*"))) == 6


def test_map_owner_chain_and_owner_gone(root: Root, objects: Path) -> None:
    a = load_counter(root, objects)
    b = load_counter(root, objects, "--map-owner-id", a)
    c = load_counter(root, objects, "--map-owner-id", b)  # b only uses a's maps
    ids = [a, b, c]
    counts = {find_map_id(i, "counts") for i in ids}
    assert len(counts) == 1
    owner_dir = str(root.maps(ids[0]))
    for i in ids:
        details = root.json("get", "program", i)
        assert isinstance(details, dict)
        assert details["bpfman"]["map_pin_path"] == owner_dir
        assert sorted(details["bpfman"]["maps_used_by"]) == sorted(ids)

    root.run("unload", ids[0])
    d = load_counter(root, objects, "--map-owner-id", b)
    assert find_map_id(d, "counts") in counts
    for i in (*ids[1:], d):
        root.run("unload", i)
    assert not Path(owner_dir).exists()


def test_usage_errors_are_one_line(root: Root) -> None:
    """click's own usage errors also come out as one stderr line."""
    assert "Choose from: ingress, egress" in root.fail("attach", "1", "tcx", "-i", "x", "-p", "5")
    assert root.fail("list") == "Error: missing command: see 'bpfman list --help'"
    assert "'abc' is not a number" in root.fail("unload", "abc")
    assert "out of range" in root.fail("get", "link", str(2**32))


_PROBE = (
    "import sys; from bpfman.cli.{0} import {1} as run; code = run({2!r});"
    "print('click' in sys.modules, file=sys.stderr); sys.exit(code)"
)


def _fast_and_full(
    root: Root, args: list[str], after: Callable[[], None] = lambda: None
) -> list[str]:
    """What the click-free path and the full CLI print for ``args``; the first used no click.

    ``after`` runs after each of the two (to undo a load, say).
    """
    outputs = []
    for module, function in (("fast", "run"), ("main", "main")):
        proc = subprocess.run(
            [sys.executable, "-c", _PROBE.format(module, function, args)],
            env=root.env,
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        )
        outputs.append(proc.stdout)
        assert proc.stderr.strip() == str(module == "main"), (args, proc.stderr)
        after()
    return outputs


def test_list_fast_path_matches_the_full_cli(root: Root, objects: Path) -> None:
    """`list` skips click for speed; its output must be what the full CLI prints."""
    load_counter(root, objects, "-a", "fast", "-m", "k=v")
    for args in (
        ["list", "programs"],
        ["list", "programs", "--application", "fast", "-o", "json"],
        ["list", "links", "-p", "tracepoint"],
        ["list", "program", "-m", "k=v"],
    ):
        fast, full = _fast_and_full(root, args)
        assert fast == full, args


def test_load_file_fast_path_matches_the_full_cli(root: Root, objects: Path) -> None:
    """`load file` skips click too: the same records and the same output, ids aside."""
    obj = str(objects / "tracepoint_counter.bpf.o")
    owner = load_counter(root, objects)

    def unload_new() -> None:
        [new] = [row["id"] for row in root.json("list", "programs") if row["id"] != owner]
        root.run("unload", new)

    for args in (
        ["load", "file", "-p", obj, "--programs", TRACEPOINT, "-m", "k=v", "-m", "k2=v2"],
        ["load", "file", "--programs", TRACEPOINT, "--path", obj, "-a", "app", "-o", "json"],
        ["load", "file", "-p", obj, "--programs", TRACEPOINT, "--map-owner-id", str(owner)],
        ["load", "file", "-p", obj, "--programs", TRACEPOINT, "-g", "increment=02000000"],
    ):
        fast, full = _fast_and_full(root, args, unload_new)
        assert re.sub(r"\d+", "N", fast) == re.sub(r"\d+", "N", full), args
    root.run("unload", owner)


WRITERS = 16
ROUNDS = 10
_WRITER = """
import sys
from bpfman.core.manager import Bpfman
root, obj, tag = sys.argv[1:4]
with Bpfman(root) as mgr:
    for i in range(int(sys.argv[4])):
        [prog] = mgr.load_file(obj, ["tracepoint:tracepoint_counter"], metadata={"w": tag})
        link = mgr.attach(prog.id, {"tracepoint": "syscalls/sys_enter_getppid"})
        if i:  # a tracepoint takes at most 64 programs: keep one link per writer
            mgr.detach(link.id)
"""
_READER = """
import sys, time
from bpfman.core.manager import Bpfman
worst = 0.0
with Bpfman(sys.argv[1]) as mgr:
    deadline = time.monotonic() + float(sys.argv[2])
    while time.monotonic() < deadline:
        start = time.monotonic()
        mgr.list_programs()
        mgr.list_links()
        worst = max(worst, time.monotonic() - start)
print(worst)
"""


def test_concurrent_writers_lose_no_update_and_readers_keep_answering(
    root: Root, objects: Path
) -> None:
    obj = str(objects / "tracepoint_counter.bpf.o")
    python = [sys.executable, "-c"]
    writers = [
        subprocess.Popen(
            [*python, _WRITER, str(root.path), obj, str(n), str(ROUNDS)],
            cwd=REPO,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(WRITERS)
    ]
    readers = [
        subprocess.Popen(
            [*python, _READER, str(root.path), "8"],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for proc in writers:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
    for proc in readers:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
        assert float(out) < 2.0  # the slowest answer while 16 writers worked
    programs = root.json("list", "programs")
    assert isinstance(programs, list) and len(programs) == WRITERS * ROUNDS
    links = root.json("list", "links")
    assert isinstance(links, list) and len(links) == WRITERS
    for n in range(WRITERS):
        mine = root.json("list", "programs", "-m", f"w={n}")
        assert isinstance(mine, list) and len(mine) == ROUNDS
