"""SPEC §7 error paths through the real CLI: one stderr line, a non-zero exit, no
traceback, and nothing half-done left in the kernel, on bpffs or in the state.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import run
from tests.helpers.bpftool import bpftool, prog_ids
from tests.helpers.consistency import named
from tests.helpers.net import VethPair
from tests.helpers.root import REPO, Root
from tests.helpers.wait import eventually

MISSING_ID = 4294967294
TRACEPOINT = "syscalls/sys_enter_getppid"


@dataclass
class Snapshot:
    pins: set[str]
    programs: Any
    links: Any
    kernel: set[int]


def pins(root: Root) -> set[str]:
    fs = root.path / "fs"
    return {str(p.relative_to(fs)) for p in fs.rglob("*")} if fs.exists() else set()


def records(root: Root) -> tuple[Any, Any]:
    """What ``list programs`` and ``list links`` would show, read in-process (fast)."""
    mgr = root.manager()
    try:
        programs = [(row.id, row.link_ids) for row in mgr.list_programs()]
        links = [(d.link.id, d.program.id, d.position) for d in mgr.list_links()]
    finally:
        mgr.close()
    return programs, links


def snapshot(root: Root) -> Snapshot:
    programs, links = records(root)
    return Snapshot(pins(root), programs, links, prog_ids())


def new_programs_named(before: set[int], names: set[str]) -> set[int]:
    found = set()
    for prog_id in prog_ids() - before:
        try:
            prog = bpftool("prog", "show", "id", str(prog_id))
        except AssertionError:
            continue  # gone meanwhile
        if named(prog, names):
            found.add(prog_id)
    return found


def assert_nothing_left(root: Root, before: Snapshot, names: Collection[str] = ()) -> None:
    """Same pins, same records, and no new kernel program with one of ``names``.

    Other test runs may load the same test programs meanwhile, so a suspicious
    program only counts if it is still there a moment later (our leftovers would
    be pinned, hence permanent; the kernel frees unpinned ones asynchronously).
    """
    assert pins(root) == before.pins
    assert records(root) == (before.programs, before.links)
    suspects = new_programs_named(before.kernel, set(names))
    gone = eventually(lambda: not suspects & prog_ids(), timeout=1.0)
    assert gone, f"programs left in the kernel: {suspects & prog_ids()}"


def fails(
    root: Root, before: Snapshot, *args: str | int | Path, names: Collection[str] = ()
) -> str:
    message = root.fail(*map(str, args))
    assert message.startswith("Error: "), message
    assert_nothing_left(root, before, names)
    return message


def load_fails(root: Root, before: Snapshot, obj: Path, *args: str, names: set[str]) -> str:
    """``load file -p OBJ ARGS...`` fails cleanly, and no program called ``names`` stays."""
    return fails(root, before, "load", "file", "-p", obj, *args, names=names)


@pytest.fixture
def base(root: Root, objects: Path) -> dict[str, int]:
    """A loaded tracepoint (attached) and a loaded tcx program."""
    tp = root.load_id(
        objects / "tracepoint_counter.bpf.o", "--programs", "tracepoint:tracepoint_counter"
    )
    tcx = root.load_id(objects / "tcx_chain.bpf.o", "--programs", "tcx:tcx_chain")
    root.run("attach", tp, "tracepoint", "-t", TRACEPOINT)
    return {"tp": tp, "tcx": tcx}


def test_missing_program_and_link_ids(root: Root, base: dict[str, int]) -> None:
    before = snapshot(root)
    for args in (
        ("unload", MISSING_ID),
        ("get", "program", MISSING_ID),
        ("attach", MISSING_ID, "tracepoint", "-t", TRACEPOINT),
    ):
        assert f"no program with id {MISSING_ID}" in fails(root, before, *args)
    for args in (("detach", MISSING_ID), ("get", "link", MISSING_ID)):
        assert f"no link with id {MISSING_ID}" in fails(root, before, *args)


def test_program_not_managed_by_bpfman(root: Root, base: dict[str, int], foreign: int) -> None:
    before = snapshot(root)
    for args in (
        ("unload", foreign),
        ("attach", foreign, "tracepoint", "-t", TRACEPOINT),
    ):
        message = fails(root, before, *args)
        assert f"program {foreign} is not managed by bpfman" in message
    assert foreign in prog_ids()


def test_wrong_attach_type(root: Root, base: dict[str, int]) -> None:
    before = snapshot(root)
    message = fails(root, before, "attach", base["tp"], "tcx", "-d", "ingress", "-i", "lo", "-p", 5)
    assert "tracepoint" in message and "tcx" in message
    message = fails(root, before, "attach", base["tcx"], "tracepoint", "-t", TRACEPOINT)
    assert "tcx" in message and "tracepoint" in message
    message = fails(root, before, "attach", base["tp"], "uprobe", "-t", "libc", "-f", "getpid")
    assert "tracepoint" in message


def test_same_tracepoint_twice_is_refused_cleanly(root: Root, base: dict[str, int]) -> None:
    """The kernel allows one attachment of a program per tracepoint."""
    before = snapshot(root)
    message = fails(root, before, "attach", base["tp"], "tracepoint", "-t", TRACEPOINT)
    assert TRACEPOINT in message or "already" in message


def test_load_input_errors(root: Root, objects: Path, base: dict[str, int], tmp_path: Path) -> None:
    before = snapshot(root)
    obj = objects / "tracepoint_counter.bpf.o"
    names = {"tracepoint_counter"}

    def load_fails_with(obj: Path, *args: str) -> str:
        return load_fails(root, before, obj, *args, names=names)

    tp = "tracepoint:tracepoint_counter"
    message = load_fails_with(obj, "--programs", "tracepoint:no_such_func")
    assert "no_such_func" in message and "tracepoint_counter" in message
    message = load_fails_with(obj, "--programs", tp, "-g", "no_such_global=01000000")
    assert "no_such_global" in message
    message = load_fails_with(obj, "--programs", tp, "-g", "increment=0100")
    assert "increment" in message and "4" in message
    message = load_fails_with(obj, "--programs", tp, "-g", "increment=zz000000")
    assert "increment" in message
    message = load_fails_with(obj, "--programs", tp, "-g", "increment=0x010000")
    assert "0x" in message
    message = load_fails_with(obj, "--programs", tp, "-g", "increment=")
    assert "increment" in message
    message = load_fails_with(obj, "--programs", tp, "-g", "increment")
    assert "increment" in message
    message = load_fails_with(obj, "--programs", "xdp")
    assert "'xdp'" in message
    message = load_fails_with(obj, "--programs", "a:b:c:d")
    assert "a:b:c:d" in message
    message = load_fails_with(obj, "--programs", "bogus:tracepoint_counter")
    assert "bogus" in message
    message = load_fails_with(objects / "fentry_counter.bpf.o", "--programs", "fentry:test_fentry")
    assert "fentry" in message and "ATTACH_FUNC" in message

    text = tmp_path / "not-an-elf.o"
    text.write_text("this is not an ELF object\n")
    message = load_fails_with(text, "--programs", tp)
    assert str(text) in message
    message = load_fails_with(tmp_path / "missing.o", "--programs", tp)
    assert "missing.o" in message and "not found" in message


def test_batch_load_is_all_or_nothing(root: Root, objects: Path, base: dict[str, int]) -> None:
    before = snapshot(root)
    message = load_fails(
        root,
        before,
        objects / "multi.bpf.o",
        "--programs",
        "tracepoint:good_prog",
        "tracepoint:bad_prog",
        names={"good_prog", "bad_prog"},
    )
    assert "bad_prog" in message
    assert "invalid mem access" in message or "verifier" in message  # the verifier's tail


def test_fentry_load_refused_by_this_kernel(
    root: Root, objects: Path, base: dict[str, int]
) -> None:
    before = snapshot(root)
    message = load_fails(
        root,
        before,
        objects / "fentry_counter.bpf.o",
        "--programs",
        "fentry:test_fentry:do_unlinkat",
        names={"test_fentry"},
    )
    assert "test_fentry" in message
    assert "EPERM" in message or "not permitted" in message.lower()


def test_kprobe_attach_not_supported_here(root: Root, objects: Path, base: dict[str, int]) -> None:
    prog = root.load_id(objects / "kprobe_counter.bpf.o", "--programs", "kprobe:kprobe_counter")
    before = snapshot(root)
    message = fails(root, before, "attach", prog, "kprobe", "-f", "do_unlinkat")
    assert "not supported" in message
    message = fails(root, before, "attach", prog, "kprobe", "-f", "do_unlinkat", "-c", 1)
    assert "not supported" in message and "container" in message.lower()


def test_attach_parameter_errors(root: Root, base: dict[str, int]) -> None:
    with VethPair() as pair:
        before = snapshot(root)
        tcx = base["tcx"]

        def tcx_fails(*args: str | int) -> str:
            return fails(root, before, "attach", tcx, "tcx", "-d", "ingress", *args)

        message = tcx_fails("-i", "nosuchif0", "-p", 5)
        assert "nosuchif0" in message
        message = tcx_fails("-i", pair.if_a, "-p", 5, "-n", pair.netns_path_b)
        assert pair.if_a in message  # exists, but in the other namespace
        missing_ns = "/var/run/netns/bpfman-no-such-netns"
        message = tcx_fails("-i", pair.if_b, "-p", 5, "-n", missing_ns)
        assert missing_ns in message
        for priority in (0, 1001):
            message = tcx_fails("-i", pair.if_b, "-p", priority, "-n", pair.netns_path_b)
            assert "1-1000" in message or "1<=x<=1000" in message or "range" in message
        message = fails(
            root, before, "attach", tcx, "tcx", "-d", "sideways", "-i", pair.if_b, "-p", 5
        )
        assert "sideways" in message

        message = fails(root, before, "attach", base["tp"], "tracepoint", "-t", "nonsense")
        assert "nonsense" in message
        message = fails(
            root, before, "attach", base["tp"], "tracepoint", "-t", "syscalls/sys_enter_nope"
        )
        assert "sys_enter_nope" in message
        message = fails(root, before, "list", "programs", "--program-type", "bogus")
        assert "bogus" in message
        message = fails(root, before, "list", "programs", "--metadata-selector", "novalue")
        assert "novalue" in message


def test_non_root_is_refused(root: Root, objects: Path) -> None:
    """As an unprivileged user every command says it needs root, in one line.

    The state root is world-readable, as /run/bpfman is on a real host.
    """
    root.path.chmod(0o755)
    for args in (
        ["list", "programs"],
        ["get", "program", "1"],
        [
            "load",
            "file",
            "-p",
            str(objects / "tracepoint_counter.bpf.o"),
            "--programs",
            "tracepoint:tracepoint_counter",
        ],
        ["unload", "1"],
    ):
        proc = run_unprivileged(root, args)
        assert proc.returncode != 0, proc.stdout
        assert "Traceback" not in proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1, proc.stderr
        assert "must be run as root" in lines[0]
    # A root that does not exist yet (a fresh host) gives the same answer.
    proc = run_unprivileged(root, ["list", "programs"], root.path / "not-yet")
    assert proc.returncode != 0 and "must be run as root" in proc.stderr
    assert not (root.path / "not-yet").exists()


def run_unprivileged(
    root: Root, args: list[str], state_root: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            sys.executable,
            "-m",
            "bpfman",
            *args,
        ],
        env={**root.env, "HOME": "/nonexistent", "BPFMAN_ROOT": str(state_root or root.path)},
        capture_output=True,
        text=True,
        cwd=REPO,
    )


def test_unrecorded_pins_are_removed_by_recover(root: Root, objects: Path) -> None:
    """Pins nothing records (planted behind bpfman's back) go with ``system recover``.

    A normal command never sweeps bpffs (its cost stays flat in the number of
    programs, and crashes are undone by the journal instead); recovery does.
    """
    keep = root.load_id(
        objects / "tracepoint_counter.bpf.o", "--programs", "tracepoint:tracepoint_counter"
    )
    fs = root.path / "fs"
    run(["bpftool", "prog", "load", str(objects / "tracepoint_counter.bpf.o"), f"{fs}/tmp_pin"])
    orphan = int(bpftool("prog", "show", "pinned", f"{fs}/tmp_pin")["id"])
    run(["bpftool", "prog", "pin", "id", str(orphan), f"{fs}/prog_{orphan}"])
    os.unlink(fs / "tmp_pin")
    (fs / "maps" / "999999").mkdir()
    map_id = bpftool("prog", "show", "id", str(orphan))["map_ids"][0]
    run(["bpftool", "map", "pin", "id", str(map_id), f"{fs}/maps/999999/counts"])
    assert orphan in prog_ids()

    root.run("attach", keep, "tracepoint", "-t", TRACEPOINT)
    assert (fs / f"prog_{orphan}").exists()
    out = root.run("system", "recover").stdout
    assert f"prog_{orphan}" in out and "maps/999999" in out
    assert not (fs / f"prog_{orphan}").exists()
    assert not (fs / "maps" / "999999").exists()
    assert eventually(lambda: orphan not in prog_ids())
    # What bpfman does own is untouched.
    assert (fs / f"prog_{keep}").exists()
    assert (fs / "maps" / str(keep) / "counts").exists()
    rows: Any = root.json("list", "programs")
    assert [row["id"] for row in rows] == [keep]
    assert rows[0]["links"] and len(rows[0]["links"]) == 1
