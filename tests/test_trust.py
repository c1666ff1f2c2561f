"""Trust: bpfman under attack, with a slow writer, and with a lost or corrupt store.

Attackers are played by ``nobody`` (setpriv); slow writers by a real bpfman
command slowed inside its kernel calls (strace delay injection).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import lmdb
import pytest

from bpfman.core.manager import Bpfman
from bpfman.errors import StateError
from tests.helpers import run
from tests.helpers.bpftool import net_show, prog_ids
from tests.helpers.chains import load_chain
from tests.helpers.consistency import Hook, problems
from tests.helpers.net import VethPair
from tests.helpers.root import BPFMAN, REPO, Arg, Root, load_counter, require_root
from tests.helpers.wait import eventually

NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"]
TRACEPOINT = "syscalls/sys_enter_getppid"
STATE_ERROR = 7


def as_nobody(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*NOBODY, *cmd], capture_output=True, text=True)


def mode(path: Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode) & 0o777


# -- 1. nothing of bpfman's is open to other users ------------------------------
def test_state_and_bpffs_are_root_only(root: Root, objects: Path) -> None:
    prog = load_counter(root, objects)
    root.run("attach", prog, "tracepoint", "-t", TRACEPOINT)
    for path in (root.path, root.path / "db", root.path / "fs", root.path / "fs" / "links"):
        assert mode(path) == 0o700, path
    for name in ("data.mdb", "lock.mdb", "writer.lock"):
        assert mode(root.path / "db" / name) == 0o600, name

    # Even with the root opened up by an admin, each layer keeps nobody out.
    root.path.chmod(0o755)
    fs = root.path / "fs"
    assert as_nobody("cat", str(root.path / "db" / "data.mdb")).returncode != 0
    assert as_nobody("ls", str(fs)).returncode != 0
    assert as_nobody("mkdir", str(fs / "prog_x")).returncode != 0
    assert as_nobody("mkdir", str(fs / "links" / "x")).returncode != 0
    assert as_nobody("ln", "-s", "/etc", str(fs / "xdp")).returncode != 0
    assert as_nobody("touch", str(root.path / "db" / "writer.lock")).returncode != 0
    # The next mutation closes the root again.
    root.run("unload", prog)
    assert mode(root.path) == 0o700


@pytest.fixture
def shared_root() -> Iterator[Path]:
    """A root directory anyone may write to, as a careless admin might make it."""
    require_root()
    parent = Path(tempfile.mkdtemp(prefix="bpfman-shared-"))
    parent.chmod(0o755)
    base = parent / "root"
    base.mkdir()
    base.chmod(0o777)
    try:
        yield base
    finally:
        if os.path.ismount(base / "fs"):
            subprocess.run(["umount", "-l", str(base / "fs")], check=False)
        shutil.rmtree(parent, ignore_errors=True)


def test_a_root_prepared_by_another_user_is_refused(shared_root: Path, objects: Path) -> None:
    base = shared_root
    for planted in ("fs", "db"):
        for made in base.iterdir():  # what the refused attempt before made
            shutil.rmtree(made)
        base.chmod(0o777)  # and it closed the root again
        target = base / planted
        assert as_nobody("mkdir", str(target)).returncode == 0
        env = {**os.environ, "BPFMAN_ROOT": str(base)}
        proc = subprocess.run(
            [*BPFMAN, "load", "file", "-p", str(objects / "tracepoint_counter.bpf.o"),
             "--programs", "tracepoint:tracepoint_counter"],
            env=env, cwd=REPO, capture_output=True, text=True,
        )  # fmt: skip
        assert proc.returncode != 0
        assert proc.stderr.count("\n") == 1 and "uid 65534" in proc.stderr, proc.stderr
        assert str(target) in proc.stderr
        shutil.rmtree(target)
    # A symlink planted where the store goes is refused too, never followed.
    base.chmod(0o777)
    assert as_nobody("ln", "-s", "/etc", str(base / "db")).returncode == 0
    proc = subprocess.run(
        [*BPFMAN, "list", "programs"],
        env={**os.environ, "BPFMAN_ROOT": str(base)}, cwd=REPO, capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode == 0  # a reader creates nothing
    proc = subprocess.run(
        [*BPFMAN, "load", "file", "-p", str(objects / "tracepoint_counter.bpf.o"),
         "--programs", "tracepoint:tracepoint_counter"],
        env={**os.environ, "BPFMAN_ROOT": str(base)}, cwd=REPO, capture_output=True, text=True,
    )  # fmt: skip
    assert proc.returncode != 0 and "symlink" in proc.stderr, proc.stderr
    assert not (base / "fs").exists() or not os.path.ismount(base / "fs")


def test_unrecognised_entries_are_ignored_and_symlinks_never_followed(
    root: Root, objects: Path, tmp_path: Path
) -> None:
    prog = load_counter(root, objects)
    fs = root.path / "fs"
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "precious").write_text("keep me")
    (fs / "prog_x").mkdir()
    (fs / "links" / "x").mkdir()
    (fs / "links" / "evil").symlink_to(victim)
    (fs / "xdp").mkdir(mode=0o700)
    (fs / "xdp" / "dispatch-1-2").symlink_to(victim)
    (fs / "maps" / "evil").symlink_to(victim)

    link = root.attach(prog, "tracepoint", "-t", TRACEPOINT)
    root.run("detach", link["id"])
    root.run("system", "recover")
    root.run("unload", prog)
    assert (victim / "precious").read_text() == "keep me"
    assert root.json("list", "programs") == []


# -- 2. uprobe targets --------------------------------------------------------------
@pytest.fixture
def uprobe(root: Root, objects: Path) -> int:
    return root.load_id(objects / "uprobe_counter.bpf.o", "--programs", "uprobe:uprobe_counter")


def test_uprobe_target_must_be_a_regular_file(root: Root, uprobe: int) -> None:
    start = time.monotonic()
    proc = subprocess.Popen(
        [*BPFMAN, "attach", str(uprobe), "uprobe", "-t", "/dev/zero", "-f", "x"],
        env=root.env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stderr is not None
    line = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)  # this command's own peak, not all children's
    assert os.waitstatus_to_exitcode(status) != 0 and "not a regular file" in line, line
    assert line.count("\n") == 1 and "Traceback" not in line
    assert time.monotonic() - start < 5
    assert usage.ru_maxrss < 512 * 1024  # KiB: nothing read the device whole
    assert root.json("list", "links") == []


@pytest.mark.parametrize(
    "content",
    [
        b"not an elf at all",
        b"\x7fELF",
        b"\x7fELF\x02\x01\x01" + b"\0" * 9 + b"\x03\x00\x3e\x00" + b"\xff" * 48,
        None,  # the first 200 bytes of the real libc
    ],
    ids=["garbage", "magic-only", "wild-offsets", "truncated-libc"],
)
def test_malformed_uprobe_targets_are_clean_errors(
    root: Root, uprobe: int, tmp_path: Path, content: bytes | None
) -> None:
    target = tmp_path / "target"
    if content is None:
        content = Path("/lib/x86_64-linux-gnu/libc.so.6").read_bytes()[:200]
    target.write_bytes(content)
    line = root.fail("attach", uprobe, "uprobe", "-t", str(target), "-f", "malloc")
    assert "internal error" not in line and str(target) in line
    assert root.json("list", "links") == []


def test_uprobe_offset_past_the_file_is_refused(root: Root, uprobe: int) -> None:
    line = root.fail("attach", uprobe, "uprobe", "-t", "libc", "-o", str(2**64 - 1))
    assert "past the end" in line


# -- 3. readers never wait -----------------------------------------------------------
def test_readers_never_wait_for_a_slow_writer(root: Root, objects: Path) -> None:
    prog = load_counter(root, objects)
    link = root.attach(prog, "tracepoint", "-t", TRACEPOINT)
    other = load_counter(root, objects)
    # A real attach, slowed for 5 s at its first bpf() call, inside the writers' lock.
    writer = subprocess.Popen(
        ["strace", "-f", "-qq", "-o", os.devnull, "-e", "trace=bpf",
         "-e", "inject=bpf:delay_enter=5000000:when=1",
         *BPFMAN, "attach", str(other), "tracepoint", "-t", TRACEPOINT],
        env=root.env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        time.sleep(1.0)
        assert writer.poll() is None
        with Bpfman(root.path) as mgr:  # the reads alone, without an interpreter's start
            for read in (mgr.list_links, mgr.list_programs, lambda: mgr.get_link(link["id"])):
                start = time.monotonic()
                read()
                assert time.monotonic() - start < 1.0, read
        for args in (("list", "links"), ("list", "programs"), ("get", "link", link["id"])):
            root.run(*args)
        assert writer.poll() is None  # every command answered while the writer was at work
    finally:
        _, err = writer.communicate(timeout=30)
    assert writer.returncode == 0, err
    assert len(root.json("list", "links")) == 2


# -- 4. a hook that vanished --------------------------------------------------------
def test_tc_detach_and_unload_after_the_qdisc_is_gone(root: Root, objects: Path) -> None:
    root.env["BPFMAN_FREPLACE"] = "0"
    with VethPair() as pair:
        prog = load_chain(root, objects, "tc", 0, 0)
        link = root.attach(
            prog, "tc", "-d", "ingress", "-i", pair.if_b, "-p", 5, "-n", pair.netns_path_b
        )
        run(["tc", "-n", pair.ns_b, "qdisc", "del", "dev", pair.if_b, "clsact"])
        root.run("detach", link["id"])
        assert root.json("list", "links") == []
        # Attach again (the qdisc comes back), lose it again, and unload this time.
        root.run("attach", prog, "tc", "-d", "egress", "-i", pair.if_b, "-p", 5,
                 "-n", pair.netns_path_b)  # fmt: skip
        run(["tc", "-n", pair.ns_b, "qdisc", "del", "dev", pair.if_b, "clsact"])
        root.run("unload", prog)
        assert problems(root.path, [Hook(pair.if_b, pair.netns_path_b)], {"tc_chain"}, set()) == []
        assert "clsact" not in run(["tc", "-n", pair.ns_b, "qdisc", "show", "dev", pair.if_b])


# -- 6. a lost store -----------------------------------------------------------------
def _attach_everything(root: Root, objects: Path, pair: VethPair) -> dict[str, int]:
    root.env["BPFMAN_FREPLACE"] = "0"
    ids: dict[str, int] = {}
    for kind in ("xdp", "tc", "tcx"):
        ids[kind] = load_chain(root, objects, kind, 0, 0)
    where: list[Arg] = ["-i", pair.if_b, "-p", 5, "-n", pair.netns_path_b]
    root.run("attach", ids["xdp"], "xdp", *where)
    root.run("attach", ids["tc"], "tc", "-d", "ingress", *where)
    root.run("attach", ids["tcx"], "tcx", "-d", "egress", *where)
    ids["tracepoint"] = load_counter(root, objects)
    root.run("attach", ids["tracepoint"], "tracepoint", "-t", TRACEPOINT)
    return ids


def _hooks_of(pair: VethPair) -> dict[str, list[int]]:
    shown = net_show(pair.if_b, pair.netns_path_b)
    return {
        "xdp": [e["id"] for e in shown["xdp"]],
        "tc": [e["id"] for e in shown["tc"]],
        "tcx": [e["prog_id"] for e in shown["tcx"]],
    }


@pytest.mark.parametrize("damage", ["deleted", "emptied"])
def test_a_lost_store_is_refused_then_adopted(root: Root, objects: Path, damage: str) -> None:
    with VethPair() as pair:
        ids = _attach_everything(root, objects, pair)
        hooks = _hooks_of(pair)
        data = root.path / "db" / "data.mdb"
        if damage == "deleted":
            data.unlink()
        else:
            data.write_bytes(b"")
        for args in (("load", "file", "-p", objects / "tracepoint_counter.bpf.o",
                      "--programs", "tracepoint:tracepoint_counter"), ("list", "programs")):  # fmt: skip
            proc = root.run(*args, check=False)
            assert proc.returncode == STATE_ERROR and "system recover" in proc.stderr
            assert proc.stderr.count("\n") == 1
        assert set(ids.values()) <= prog_ids()  # nothing was torn down
        assert _hooks_of(pair) == hooks
        assert "--adopt" in root.fail("system", "recover")

        out = root.run("system", "recover", "--adopt").stdout
        assert "adopted" in out
        listed: Any = root.json("list", "programs")
        assert {row["id"] for row in listed} == set(ids.values())
        assert _hooks_of(pair) == hooks
        for prog in ids.values():
            root.run("unload", prog)
        assert _hooks_of(pair) == {"xdp": [], "tc": [], "tcx": []}
        assert eventually(lambda: not set(ids.values()) & prog_ids())  # freed after RCU
        assert problems(root.path, [Hook(pair.if_b, pair.netns_path_b)], set(), set()) == []


def test_a_lost_store_can_be_removed(root: Root, objects: Path) -> None:
    with VethPair() as pair:
        ids = _attach_everything(root, objects, pair)
        (root.path / "db" / "data.mdb").unlink()
        root.run("system", "recover", "--remove")
        assert eventually(lambda: not set(ids.values()) & prog_ids())
        assert _hooks_of(pair) == {"xdp": [], "tc": [], "tcx": []}
        assert "clsact" not in run(["tc", "-n", pair.ns_b, "qdisc", "show", "dev", pair.if_b])
        assert root.json("list", "programs") == []


# -- 7. a corrupt store --------------------------------------------------------------
def test_a_truncated_store_is_a_clean_error(root: Root, objects: Path) -> None:
    ids = [load_counter(root, objects) for _ in range(3)]
    data = root.path / "db" / "data.mdb"
    with data.open("r+b") as f:
        f.truncate(data.stat().st_size // 2)
    proc = root.run("list", "programs", check=False)
    assert proc.returncode == STATE_ERROR, proc  # not killed by SIGBUS
    assert str(data) in proc.stderr and "system recover" in proc.stderr
    assert proc.stderr.count("\n") == 1
    root.run("system", "recover", "--adopt")
    listed: Any = root.json("list", "programs")
    assert sorted(row["id"] for row in listed) == sorted(ids)
    for prog in ids:
        root.run("unload", prog)


def test_a_corrupt_store_nothing_depends_on_is_set_aside(root: Root, objects: Path) -> None:
    root.run("unload", load_counter(root, objects))  # a store, and no pins left
    data = root.path / "db" / "data.mdb"
    data.write_bytes(b"\xff" * 8192)
    assert "system recover" in root.fail("list", "programs")
    out = root.run("system", "recover").stdout
    assert "moved the unreadable store" in out
    assert root.json("list", "programs") == []
    assert [p.name for p in data.parent.glob("data.mdb.corrupt-*")]


def test_one_bad_record_never_hides_the_others(root: Root, objects: Path) -> None:
    ids = [load_counter(root, objects) for _ in range(3)]
    bad = ids[1]
    env = lmdb.open(str(root.path / "db"), max_dbs=16)
    with env.begin(write=True) as txn:
        txn.put(bad.to_bytes(4, "big"), b"\xc1 not msgpack", db=env.open_db(b"programs", txn=txn))
    env.close()
    proc = root.run("list", "programs", "-o", "json")
    assert sorted(row["id"] for row in json.loads(proc.stdout)) == [ids[0], ids[2]]
    assert "corrupt" in proc.stderr
    line = root.fail("get", "program", bad)
    assert "corrupt" in line and "system recover" in line
    root.run("unload", ids[0])
    root.run("system", "recover")
    listed: Any = root.json("list", "programs")
    assert sorted(row["id"] for row in listed) == [bad, ids[2]]
    root.run("unload", bad)
    root.run("unload", ids[2])


def test_a_full_store_is_a_clean_error(
    root: Root, objects: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bpfman.core.state._MAP_SIZE", 64 << 10)
    before = prog_ids()
    with Bpfman(root.path) as mgr, pytest.raises(StateError, match="full"):
        for _ in range(200):
            mgr.load_file(
                objects / "tracepoint_counter.bpf.o",
                ["tracepoint:tracepoint_counter"],
                metadata={"filler": "x" * 2000},
            )
    with Bpfman(root.path) as mgr:
        recorded = {row.id for row in mgr.list_programs()}
    # The load that did not fit left nothing behind: every new program is recorded.
    assert eventually(lambda: prog_ids() - before == recorded)


# -- 8. smaller things -----------------------------------------------------------------
def test_the_registry_password_never_shows(root: Root) -> None:
    line = root.fail("load", "image", "-i", "user:s3cr3t@127.0.0.1:1/x/y:z", "--programs", "xdp:f")
    assert "s3cr3t" not in line


@pytest.mark.parametrize("flag", ["-m", "-a", "-p"])
def test_invalid_utf8_is_a_clean_error(root: Root, objects: Path, flag: str) -> None:
    bad = b"\xff\xfe"
    args: list[bytes] = [b"load", b"file", b"--programs", b"tracepoint:tracepoint_counter"]
    if flag == "-p":
        args += [b"-p", bytes(objects) + b"/" + bad]
    else:
        args += [b"-p", bytes(objects / "tracepoint_counter.bpf.o"), flag.encode(), b"k=" + bad]
    proc = subprocess.run(
        [*(a.encode() for a in BPFMAN), *args], env=root.env, cwd=REPO, capture_output=True
    )
    stderr = proc.stderr.decode(errors="replace")
    assert proc.returncode not in (0, 70) and "Traceback" not in stderr, stderr
    assert stderr.count("\n") == 1
    assert root.json("list", "programs") == []
