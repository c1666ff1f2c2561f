"""Relative and hostile root paths, and records that point outside the root's bpffs.

A root is made absolute once, when it is given, and trusted only when no other
user could move any directory on its path; bpfman acts on a recorded path only
inside its own bpffs. Attackers are played by ``nobody`` (setpriv).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bpfman.core.bpffs import Layout
from bpfman.core.contract import Resource
from bpfman.core.model import ProgramRecord
from bpfman.core.state import Store, Txn
from tests.helpers import run
from tests.helpers.bpftool import prog_ids
from tests.helpers.root import BPFMAN, Root, load_counter, require_root

NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"]
PERMISSION_DENIED = 4
STATE_ERROR = 7


def bpfman(cwd: Path, *args: str, root: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the CLI in ``cwd``, with ``--root`` given (or none, BPFMAN_ROOT unset)."""
    env = {k: v for k, v in os.environ.items() if k != "BPFMAN_ROOT"}
    argv = [*BPFMAN, *(["--root", root] if root is not None else []), *args]
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)


def one_line(proc: subprocess.CompletedProcess[str]) -> str:
    """The single stderr line of a command that failed cleanly."""
    assert proc.returncode != 0, proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    return lines[0]


def load(cwd: Path, root: str, objects: Path) -> dict[str, Any]:
    proc = bpfman(
        cwd, "load", "file", "-p", str(objects / "tracepoint_counter.bpf.o"),
        "--programs", "tracepoint:tracepoint_counter", "-o", "json", root=root,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    loaded: list[dict[str, Any]] = json.loads(proc.stdout)
    return loaded[0]


def as_nobody(*cmd: str) -> None:
    run([*NOBODY, *cmd])


@pytest.fixture
def place() -> Iterator[Path]:
    """A directory for roots (others may enter it); their bpffs mounts go with it."""
    require_root()
    base = Path(tempfile.mkdtemp(prefix="bpfman-place-"))
    base.chmod(0o755)
    try:
        yield base
    finally:
        with open("/proc/self/mounts") as f:
            mounts = [line.split()[1] for line in f]
        for mount in sorted((m for m in mounts if m.startswith(f"{base}/")), reverse=True):
            subprocess.run(["umount", "-l", mount], check=False)  # drops every pin under it
        shutil.rmtree(base, ignore_errors=True)


def edit_program(root: Path, program_id: int, **fields: Any) -> None:
    """Rewrite a program's record as an older version (or a forger) would have written it."""
    store = Store(Layout(root).db)
    try:
        with store.locked(), store.snapshot() as txn:
            record = txn.get_program(program_id)
            assert record is not None
            txn.delete_program(record)
            txn.put_program(ProgramRecord.from_dict({**record.to_dict(), **fields}))
            store.commit(txn.staged)
    finally:
        store.close()


def journal_entry(root: Path, resource: Resource) -> None:
    """Leave an operation in the journal as if its writer had died before committing."""
    side = Txn.staging_only()
    entry = {"op": "load", "phase": "pending", "resources": [resource.to_dict()]}
    side.journal_put(time.time_ns(), entry)
    store = Store(Layout(root).db)
    try:
        store.commit(side.staged)
    finally:
        store.close()


def journal(root: Path) -> list[Any]:
    store = Store(Layout(root).db)
    try:
        with store.read() as txn:
            return [entry for _, entry in txn.journal()]
    finally:
        store.close()


def decoys(base: Path, program_id: int) -> list[Path]:
    """Files where a record relative to ``base`` would point: they must survive."""
    made = [
        base / "state/fs" / f"prog_{program_id}",
        base / "state/fs/maps" / str(program_id) / "counts",
    ]
    for path in made:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("precious")
    return made


# -- 1. a relative root is made absolute once ---------------------------------------
def test_a_relative_root_never_acts_where_a_later_command_runs(place: Path, objects: Path) -> None:
    here, there = place / "a", place / "b"
    here.mkdir()
    there.mkdir()
    program = load(here, "state", objects)
    prog = int(program["id"])
    fs = here / "state" / "fs"
    assert program["bpfman"]["map_pin_path"] == str(fs / "maps" / str(prog))

    planted = decoys(there, prog)
    proc = bpfman(there, "unload", str(prog), root="../a/state")
    assert proc.returncode == 0, proc.stderr
    assert all(path.read_text() == "precious" for path in planted)
    assert prog not in prog_ids()
    assert not (fs / f"prog_{prog}").exists() and not (fs / "maps" / str(prog)).exists()
    assert (
        json.loads(bpfman(there, "list", "programs", "-o", "json", root="../a/state").stdout) == []
    )


def test_an_older_relative_record_is_re_anchored_under_the_root(
    root: Root, objects: Path, place: Path
) -> None:
    """Records an older version wrote for ``--root <name>``, run from the root's parent."""
    prog = load_counter(root, objects)
    name = root.path.name
    edit_program(
        root.path, prog, pin=f"{name}/fs/prog_{prog}", map_pin_path=f"{name}/fs/maps/{prog}"
    )
    planted = decoys(place, prog)
    (place / name / "fs").mkdir(parents=True)
    (place / name / "fs" / f"prog_{prog}").write_text("precious")
    planted.append(place / name / "fs" / f"prog_{prog}")
    # Recovery reads it re-anchored too: the live program keeps its record.
    assert bpfman(place, "system", "recover", root=str(root.path)).returncode == 0
    assert prog in [row["id"] for row in root.json("list", "programs")]

    # Shared maps follow the owner's record as written (one set of users), acted on confined.
    sharer = load_counter(root, objects, "--map-owner-id", prog)
    assert root.json("get", "program", sharer)["bpfman"]["map_pin_path"] == f"{name}/fs/maps/{prog}"
    for gone in (sharer, prog):
        proc = bpfman(place, "unload", str(gone), root=str(root.path))
        assert proc.returncode == 0, proc.stderr
    assert all(path.read_text() == "precious" for path in planted)
    assert not {prog, sharer} & prog_ids()
    assert sorted(os.listdir(root.path / "fs" / "maps")) == []
    assert not (root.path / "fs" / f"prog_{prog}").exists()


@pytest.mark.parametrize("case", ["absolute", "climbing", "map dir", "relative"])
def test_a_record_pointing_outside_the_bpffs_is_refused_and_kept(
    root: Root, objects: Path, place: Path, case: str
) -> None:
    prog = load_counter(root, objects)
    victim = place / "victim"
    victim.mkdir()
    (victim / "file").write_text("precious")
    field, value, says = {
        "absolute": ("pin", str(victim / "file"), "points outside bpfman's bpffs"),
        "climbing": (
            "pin",
            f"{root.path}/fs/../{os.path.relpath(victim / 'file', root.path)}",
            "points outside bpfman's bpffs",
        ),
        "map dir": ("map_pin_path", str(victim), "points outside bpfman's bpffs"),
        "relative": ("pin", f"elsewhere/fs/prog_{prog}", "cannot tell where"),
    }[case]
    edit_program(root.path, prog, **{field: value})

    line = one_line(root.run("unload", prog, check=False))
    assert says in line and "system recover --adopt" in line, line
    assert root.run("unload", prog, check=False).returncode == STATE_ERROR
    assert (victim / "file").read_text() == "precious"
    assert prog in prog_ids() and [p["id"] for p in root.json("list", "programs")] == [prog]


@pytest.mark.parametrize("kind", ["pin", "link", "tree", "xdp-link"])
def test_a_journal_entry_pointing_outside_the_bpffs_is_never_released(
    root: Root, objects: Path, place: Path, kind: str
) -> None:
    load_counter(root, objects)
    victim = place / "victim"
    victim.mkdir()
    (victim / "file").write_text("precious")
    target = victim if kind == "tree" else victim / "file"
    resource = (
        Resource("xdp-link", {"pin": str(target)}, "xdp")
        if kind == "xdp-link"
        else Resource(kind, {"path": str(target)})
    )
    journal_entry(root.path, resource)

    proc = root.run("list", "programs")  # a reader finishes a dead writer's work
    assert "refusing to act on" in proc.stderr and str(target) in proc.stderr, proc.stderr
    assert (victim / "file").read_text() == "precious"
    assert journal(root.path) != []  # kept: nothing is forgotten


# -- 2. every directory on the root's path is trusted -------------------------------
def test_a_root_below_another_users_directory_is_refused(place: Path, objects: Path) -> None:
    theirs = place / "theirs"
    theirs.mkdir()
    os.chown(theirs, 65534, 65534)
    for args in (["list", "programs"], ["load", "file", "-p", str(objects / "tracepoint_counter.bpf.o"),
                 "--programs", "tracepoint:tracepoint_counter"]):  # fmt: skip
        proc = bpfman(place, *args, root=str(theirs / "deep" / "root"))
        assert proc.returncode == PERMISSION_DENIED
        assert f"{theirs} belongs to uid 65534" in one_line(proc)
    assert list(theirs.iterdir()) == []  # nothing created

    shared = place / "shared"
    shared.mkdir()
    shared.chmod(0o775)
    proc = bpfman(place, "list", "programs", root=str(shared / "root"))
    assert "writable by group or others" in one_line(proc)


def test_a_renamed_root_is_refused_not_recreated(place: Path, objects: Path) -> None:
    """The attack: nobody owns the root's parent and renames the root away."""
    parent = place / "parent"
    parent.mkdir()
    prog = int(load(place, str(parent / "root"), objects)["id"])

    os.chown(parent, 65534, 65534)
    as_nobody("mv", str(parent / "root"), str(parent / "moved"))
    for args in (["list", "programs"], ["load", "file", "-p", str(objects / "tracepoint_counter.bpf.o"),
                 "--programs", "tracepoint:tracepoint_counter"]):  # fmt: skip
        proc = bpfman(place, *args, root=str(parent / "root"))
        assert "belongs to uid 65534" in one_line(proc)
    assert sorted(os.listdir(parent)) == ["moved"]  # no fresh, empty store
    assert prog in prog_ids()

    os.chown(parent, 0, 0)
    os.rename(parent / "moved", parent / "root")
    assert bpfman(place, "unload", str(prog), root=str(parent / "root")).returncode == 0


def test_missing_directories_of_the_root_are_made_private(place: Path, objects: Path) -> None:
    root = place / "x" / "y" / "root"
    proc = bpfman(place, "list", "programs", root=str(root))
    assert proc.returncode == 0 and not (place / "x").exists()  # a reader creates nothing
    prog = int(load(place, str(root), objects)["id"])
    for made in (place / "x", place / "x" / "y", root):
        assert made.stat().st_mode & 0o777 == 0o700, made
    assert bpfman(place, "unload", str(prog), root=str(root)).returncode == 0


def test_someone_elses_directory_is_not_made_private(place: Path, objects: Path) -> None:
    """``--root /etc`` must not chmod /etc to 0700: only an empty directory or a bpfman
    root of an older version (it has db/) is narrowed."""
    foreign = place / "etc-like"
    foreign.mkdir(mode=0o755)
    (foreign / "passwd").write_text("root:x:0:0::/root:/bin/sh\n")
    line = one_line(
        bpfman(place, "load", "file", "-p", str(objects / "tracepoint_counter.bpf.o"),
               "--programs", "tracepoint:tracepoint_counter", root=str(foreign))
    )  # fmt: skip
    assert "holds other files" in line
    assert foreign.stat().st_mode & 0o777 == 0o755
    assert sorted(p.name for p in foreign.iterdir()) == ["passwd"]
    empty = place / "empty"
    empty.mkdir(mode=0o755)
    prog = int(load(place, str(empty), objects)["id"])
    assert empty.stat().st_mode & 0o777 == 0o700
    assert bpfman(place, "unload", str(prog), root=str(empty)).returncode == 0


def test_a_trusted_symlink_root_is_resolved_once_for_every_command(
    place: Path, objects: Path
) -> None:
    real = place / "real"
    real.mkdir(mode=0o700)
    (place / "link").symlink_to("real")
    program = load(place, "link", objects)
    prog = int(program["id"])
    assert program["bpfman"]["map_pin_path"] == str(real / "fs" / "maps" / str(prog))
    listed = bpfman(place, "list", "programs", "-o", "json", root=str(place / "link"))
    assert [p["id"] for p in json.loads(listed.stdout)] == [prog]
    assert bpfman(place, "unload", str(prog), root=str(place / "link")).returncode == 0
    assert prog not in prog_ids()

    # A system symlink (/var/run -> /run) is trusted the same way.
    name = place.name
    try:
        program = load(place, f"/var/run/{name}", objects)
        assert program["bpfman"]["map_pin_path"].startswith(f"/run/{name}/fs/maps/")
        assert bpfman(place, "unload", str(program["id"]), root=f"/var/run/{name}").returncode == 0
    finally:
        subprocess.run(["umount", "-l", f"/run/{name}/fs"], check=False, capture_output=True)
        shutil.rmtree(f"/run/{name}", ignore_errors=True)


def test_an_untrusted_symlink_root_is_refused_by_every_command(place: Path, objects: Path) -> None:
    real = place / "real"
    real.mkdir(mode=0o700)
    prog = int(load(place, str(real), objects)["id"])
    sticky = place / "tmp"
    sticky.mkdir()
    sticky.chmod(0o1777)
    as_nobody("ln", "-s", str(real), str(sticky / "link"))
    for args in (["list", "programs"], ["get", "program", str(prog)], ["unload", str(prog)],
                 ["load", "file", "-p", str(objects / "tracepoint_counter.bpf.o"),
                  "--programs", "tracepoint:tracepoint_counter"]):  # fmt: skip
        proc = bpfman(place, *args, root=str(sticky / "link"))
        assert proc.returncode == PERMISSION_DENIED
        assert f"{sticky / 'link'} belongs to uid 65534" in one_line(proc)
    assert prog in prog_ids()
    # A shared sticky directory itself is no root either.
    assert "shared directory" in one_line(bpfman(place, "list", "programs", root=str(sticky)))
    assert bpfman(place, "unload", str(prog), root=str(real)).returncode == 0


def test_a_bpffs_hidden_by_a_later_mount_is_not_taken_for_the_roots(
    tmp_path: Path, objects: Path
) -> None:
    """mountinfo still lists a bpffs that an overlay over a parent hides (the first-five-
    minutes sandbox overlays /run); bpfman mounts its own there instead of pinning into
    the overlay, which the kernel refuses with EPERM."""
    require_root()
    root = tmp_path / "root"
    obj = objects / "tracepoint_counter.bpf.o"
    cli = " ".join(BPFMAN)
    script = f"""set -e
        mkdir -m 0700 {root} {root}/fs
        mount -t bpf bpf {root}/fs
        mount -t tmpfs hide {tmp_path}
        {cli} --root {root} load file -p {obj} --programs tracepoint:tracepoint_counter \\
            -o json >{tmp_path}/loaded
        stat -f -c %T {root}/fs
        {cli} --root {root} unload "$(python3 -c 'import json,sys;print(json.load(open(sys.argv[1]))[0]["id"])' {tmp_path}/loaded)"
    """
    proc = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
        capture_output=True, text=True, cwd=tmp_path.parent,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["bpf_fs"]
