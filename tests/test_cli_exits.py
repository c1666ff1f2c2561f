"""How the CLI ends: documented exit statuses, a reader that leaves, Ctrl-C, and
global options wherever they are given.

- The exit statuses are one table (``EXIT_STATUSES``), printed by ``--help``,
  the man page, the README and the user guide (docs/user-guide.md) alike.
- ``bpfman ... | head -1`` exits 0 every time, with nothing on stderr, on the
  click-free fast path and in the full CLI.
- Ctrl-C at any point of a load, attach or detach ends with the one line
  ``Error: interrupted`` and exit status 130, and the kernel, bpffs and the state
  agree afterwards.
- ``--root`` and ``-v`` work after the subcommand too (``--lock-timeout``:
  tests/test_lock_wait.py).
"""

from __future__ import annotations

import gzip
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from bpfman.cli import roff
from bpfman.cli.exits import EXIT_STATUSES
from bpfman.core.manager import Bpfman
from tests.helpers.consistency import kernel_programs, problems
from tests.helpers.inject import STORE_WRITES, counts, points, tampered, unload_all
from tests.helpers.root import BPFMAN, REPO, Root, fresh_root

TRACEPOINT = "syscalls/sys_enter_getppid"
HEAD_RUNS = 25
SIGINT_POINTS = 6  # per syscall and command
GUIDE = REPO / "docs" / "user-guide.md"


# -- the exit statuses ------------------------------------------------------------------
def test_exit_statuses_are_documented_alike(tmp_path: Path) -> None:
    shown = subprocess.run([*BPFMAN, "--help"], cwd=REPO, capture_output=True, text=True)
    assert shown.returncode == 0
    help_text = shown.stdout.split("Exit status:\n", 1)[1]
    subprocess.run([*BPFMAN, "man", tmp_path], cwd=REPO, check=True, capture_output=True)
    man = gzip.decompress((tmp_path / "bpfman.1.gz").read_bytes()).decode()
    man_section = man.split(".SH EXIT STATUS\n", 1)[1]
    guide, readme = GUIDE.read_text(), (REPO / "README.md").read_text()
    for row in EXIT_STATUSES:
        assert f"{row.code:>5}  {row.meaning}\n" in help_text
        assert f".TP\n\\fB{row.code}\\fR\n{roff.words(row.meaning)}\n" in man_section
        assert f"| {row.code} | {row.meaning} |\n" in guide
        assert f"| {row.code} | {row.meaning} |\n" in readme
    codes = [row.code for row in EXIT_STATUSES]
    assert codes == sorted(set(codes))


# -- a reader that leaves early ---------------------------------------------------------
# The fast path, the full CLI (``--output=json`` is not for the fast path), and help.
READERS = [
    ["list", "programs", "--all"],
    ["list", "programs", "--all", "--output=json"],
    ["help", "list", "programs"],
]


@pytest.mark.parametrize("args", READERS, ids=lambda a: " ".join(a))
def test_a_reader_that_leaves_early_is_exit_status_0(root: Root, args: list[str]) -> None:
    # Gone before bpfman writes: every write fails with EPIPE.
    proc = subprocess.Popen(
        [*BPFMAN, *args], env=root.env, cwd=REPO, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert proc.stdout is not None
    proc.stdout.close()
    _, err = proc.communicate(timeout=60)
    assert (proc.returncode, err) == (0, "")
    # A real pipe to head: whether the last write comes before head leaves is timing.
    command = " ".join(f"'{word}'" for word in [*BPFMAN, *args])
    script = f"{command} | head -1 >/dev/null; exit ${{PIPESTATUS[0]}}"
    for _ in range(HEAD_RUNS):
        run = subprocess.run(["bash", "-c", script], env=root.env, cwd=REPO, capture_output=True)
        assert (run.returncode, run.stderr) == (0, b"")


# -- Ctrl-C -------------------------------------------------------------------------------
Setup = Callable[[Bpfman, Path], list[str]]


def _load(mgr: Bpfman, objects: Path) -> list[str]:
    return ["load", "file", "-p", str(objects / "tracepoint_counter.bpf.o"),
            "--programs", "tracepoint:tracepoint_counter"]  # fmt: skip


def _load_full_cli(mgr: Bpfman, objects: Path) -> list[str]:
    return [*_load(mgr, objects), "--output=json"]


def _attach(mgr: Bpfman, objects: Path) -> list[str]:
    [prog] = mgr.load_file(objects / "tracepoint_counter.bpf.o", ["tracepoint:tracepoint_counter"])
    return ["attach", str(prog.id), "tracepoint", "-t", TRACEPOINT]


def _detach(mgr: Bpfman, objects: Path) -> list[str]:
    [prog] = mgr.load_file(objects / "tracepoint_counter.bpf.o", ["tracepoint:tracepoint_counter"])
    link = mgr.attach(prog.id, {"tracepoint": TRACEPOINT})
    return ["detach", str(link.id)]


@pytest.mark.parametrize(
    "setup", [_load, _load_full_cli, _attach, _detach], ids=lambda f: f.__name__
)
def test_ctrl_c_always_ends_one_way(
    root: Root, objects: Path, setup: Setup, tmp_path: Path
) -> None:
    names = {"tracepoint_counter"}
    before = set(kernel_programs(names))

    def fresh() -> list[str]:
        with Bpfman(root.path) as mgr:
            return setup(mgr, objects)

    syscalls = ("bpf", *STORE_WRITES)
    calls = counts(root, fresh(), syscalls, tmp_path / "trace")
    unload_all(root)
    found, interrupted = [], 0
    trace = tmp_path / "tampered"
    for syscall in syscalls:
        for n in points(calls.get(syscall, 0), SIGINT_POINTS):
            proc = tampered(root, fresh(), syscall, n, "signal=INT", str(trace))
            issues = []
            if "--- SIGINT " not in trace.read_text():  # this run made fewer calls
                assert (proc.returncode, proc.stderr) == (0, "")
            elif (proc.returncode, proc.stderr) != (130, "Error: interrupted\n"):
                issues.append(f"ended {proc.returncode} with {proc.stderr!r}")
            else:
                interrupted += 1
            root.run("list", "programs")  # finishes what a crash would have left
            issues += problems(root.path, [], names, before)
            unload_all(root)
            if issues:
                found.append(f"{syscall} call {n}: {'; '.join(issues)}")
    assert found == []
    assert interrupted >= SIGINT_POINTS


# -- global options after the subcommand ----------------------------------------------------
def test_global_options_follow_the_subcommand_too(root: Root, objects: Path) -> None:
    with fresh_root() as other:
        env = {**root.env}  # BPFMAN_ROOT names ``root``: the option after the command wins

        def bpfman(*args: object) -> subprocess.CompletedProcess[str]:
            proc = subprocess.run(
                [*BPFMAN, *map(str, args)], env=env, cwd=REPO, capture_output=True, text=True
            )
            assert proc.returncode == 0, proc
            return proc

        there = ["--root", other.path]
        obj = objects / "tracepoint_counter.bpf.o"
        load = ["load", "file", "-p", obj, "--programs", "tracepoint:tracepoint_counter"]
        assert "DEBUG" in bpfman(*load, *there, "-v").stderr  # the fast path
        [prog] = [p["id"] for p in other.json("list", "programs")]
        assert "DEBUG" in bpfman(*load, *there, "--output=json", "--verbose").stderr  # full CLI
        bpfman("attach", prog, "tracepoint", "-t", TRACEPOINT, *there)  # after the type's lookup
        assert str(prog) in bpfman("list", "programs", *there).stdout
        assert str(prog) in bpfman("list", "links", "--output=json", *there).stdout
        assert str(prog) in bpfman("list", *there, "programs").stdout
        assert str(prog) in bpfman("get", "program", prog, *there).stdout
        bpfman("unload", prog, *there)
        assert len(other.json("list", "programs")) == 1
        assert root.json("list", "programs") == []
