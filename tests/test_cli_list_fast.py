"""``list`` from a healthy store: answered without the manager, and as the manager answers.

Plain and filtered ``list programs`` and ``list links`` read the store with
the core's lean modules (:mod:`bpfman.core.listing`); ``--lock-timeout``
sends the same command through the app and the manager, so each pair of
runs below compares the two paths on the same store.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import lmdb

from bpfman.core.bpffs import Layout
from tests.helpers.root import REPO, Root

THROUGH_APP = ("--lock-timeout", "60")  # any value: only the app's path takes it
HEAVY = ("typing", "pathlib", "dataclasses", "click", "pluggy", "bpfman.core.manager")


def test_list_answers_as_the_manager_does(root: Root, objects: Path) -> None:
    """Every listing reads the same through the lean path as through the manager."""
    counter = objects / "tracepoint_counter.bpf.o"
    busy = root.load_id(counter, "--programs", "tracepoint:tracepoint_counter", "-a", "shop")
    idle = root.load_id(counter, "--programs", "tracepoint:tracepoint_counter", "-m", "env=dev")
    points = ("sys_enter_getppid", "sys_enter_getpid", "sys_enter_gettid")
    attached = [root.attach(busy, "tracepoint", "-t", f"syscalls/{p}")["id"] for p in points]
    listings = [
        ("list", "programs"),
        ("list", "programs", "-q"),
        ("list", "programs", "-o", "json"),
        ("program", "list", "--attached"),
        ("list", "programs", "--unattached", "-o", "json"),
        ("list", "programs", "--application", "shop"),
        ("list", "programs", "-l", "env!=dev"),
        ("list", "programs", "--metadata-selector", "env=dev"),
        ("list", "programs", "-p", "tracepoint"),
        ("list", "links"),
        ("list", "links", "-o", "json"),
        ("link", "list", "-q", "--program-id", str(busy)),
        ("list", "links", "--kind", "tracepoint"),
    ]
    for args in listings:
        lean, managed = root.run(*args), root.run(*args, *THROUGH_APP)
        assert (lean.stdout, lean.stderr) == (managed.stdout, managed.stderr), args
    rows = {row["id"]: row for row in root.json("list", "programs")}
    assert rows[busy]["links"] == attached  # attach order, whatever order the ids sort in
    assert rows[idle]["links"] == []
    refused = root.run("list", "programs", "-p", "nope", check=False)
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1
    assert "unknown program type 'nope'" in refused.stderr


def test_plain_list_imports_neither_the_manager_nor_typing(root: Root, objects: Path) -> None:
    """What makes ``list`` fast: none of the heavy modules is imported to answer it,
    on a root with programs or on one bpfman never used."""
    root.load_id(
        objects / "tracepoint_counter.bpf.o", "--programs", "tracepoint:tracepoint_counter"
    )
    unused = root.path / "never-used"
    probe = (
        "import io, sys\n"
        "from bpfman.cli.fast import run\n"
        "sys.stdout = out = io.StringIO()\n"
        "codes = [run(['list', 'programs']), run(['list', 'links', '-o', 'json']),\n"
        f"         run(['--root', {str(unused)!r}, 'list', 'programs', '-q'])]\n"
        "sys.stdout = sys.__stdout__\n"
        f"print(codes, [m for m in {HEAVY!r} if m in sys.modules])\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe], env=root.env, capture_output=True, text=True, cwd=REPO
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[0, 0, 0] []"
    assert not unused.exists()  # a reader creates nothing


def test_a_corrupt_record_is_reported_once_and_the_others_listed(root: Root, objects: Path) -> None:
    """The lean path leaves a corrupt record to the manager, which warns once."""
    counter = objects / "tracepoint_counter.bpf.o"
    good = root.load_id(counter, "--programs", "tracepoint:tracepoint_counter")
    bad = root.load_id(counter, "--programs", "tracepoint:tracepoint_counter")
    link = root.attach(good, "tracepoint", "-t", "syscalls/sys_enter_getppid")["id"]
    corrupt(root, b"programs", bad)
    corrupt(root, b"links", link)
    proc = root.run("list", "programs", "-o", "json")
    assert [(row["id"], row["links"]) for row in json.loads(proc.stdout)] == [(good, [])]
    assert proc.stderr.splitlines() == [
        f"warning: skipping the corrupt {kind} record {key} (FormatError); "
        "run `bpfman system recover`"
        for kind, key in (("program", bad), ("link", link))
    ]


def corrupt(root: Root, db: bytes, key: int) -> None:
    """Put bytes no msgpack reader takes in place of a record."""
    env = lmdb.open(str(Layout(root.path).db), max_dbs=16)
    try:
        with env.begin(write=True) as txn:
            txn.put(key.to_bytes(4, "big"), b"\xc1not msgpack", db=env.open_db(db, txn=txn))
    finally:
        env.close()


def test_a_failed_write_is_one_line_and_a_status(root: Root, objects: Path) -> None:
    """Output that cannot be written (a full disk) ends as the app's path ends it."""
    root.load_id(
        objects / "tracepoint_counter.bpf.o", "--programs", "tracepoint:tracepoint_counter"
    )
    for extra in ((), THROUGH_APP):
        with open("/dev/full", "w") as full:
            proc = subprocess.run(
                [sys.executable, "-m", "bpfman", "list", "programs", *extra],
                env=root.env,
                stdout=full,
                stderr=subprocess.PIPE,
                text=True,
                cwd=REPO,
            )
        assert proc.returncode == 70, proc.stderr
        assert proc.stderr.splitlines() == [
            "Error: internal error: OSError: [Errno 28] No space left on device (run with -v)"
        ]
