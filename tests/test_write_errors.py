"""A state store write that fails (EIO), at each write of each mutation in turn.

Each mutation is traced once to count LMDB's writes (``pwrite64``, ``writev``);
then, for each of them, it runs again from the same start with that one write
failing (``strace -e inject=SYSCALL:error=EIO:when=N``). Whatever the write,
the exit status must tell the truth: 0 when the kernel, bpffs and the state
show the operation done (perhaps with one warning line: a journal entry the
next command clears), otherwise one error line and the operation not done.
After the next command (a reader) everything agrees and the journal is empty.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from bpfman.core.manager import Bpfman
from tests.helpers.consistency import Hook, Snapshot, kernel_programs, problems, state
from tests.helpers.inject import (
    STORE_WRITES,
    counts,
    points,
    strace_python,
    tampered,
    unload_all,
)
from tests.helpers.net import VethPair
from tests.helpers.root import Root

MOST = 16  # failed writes tried per syscall and mutation
TRACEPOINT = "syscalls/sys_enter_getppid"
Done = Callable[[Snapshot], bool]


@dataclass
class Mutation:
    """A command to break, how to bring a fresh root to it, and how to see it done."""

    name: str
    names: set[str]
    setup: Callable[[Bpfman, Path, VethPair], tuple[list[str], Done]]


def _tracepoint(mgr: Bpfman, objects: Path) -> int:
    [prog] = mgr.load_file(objects / "tracepoint_counter.bpf.o", ["tracepoint:tracepoint_counter"])
    return prog.id


def _tcx(mgr: Bpfman, objects: Path, owner: int | None = None) -> int:
    [prog] = mgr.load_file(
        objects / "tcx_chain.bpf.o",
        ["tcx:tcx_chain"],
        globals={"prog_slot": bytes(4), "verdict": (-1).to_bytes(4, "little", signed=True)},
        map_owner_id=owner,
    )
    return prog.id


def _where(pair: VethPair, priority: int) -> dict[str, object]:
    return {
        "direction": "ingress", "iface": pair.if_b, "priority": priority,
        "netns": pair.netns_path_b,
    }  # fmt: skip


def _load(mgr: Bpfman, objects: Path, pair: VethPair) -> tuple[list[str], Done]:
    args = ["load", "file", "-p", str(objects / "tracepoint_counter.bpf.o"),
            "--programs", "tracepoint:tracepoint_counter"]  # fmt: skip
    return args, lambda snap: len(snap.programs) == 1


def _attach_tracepoint(mgr: Bpfman, objects: Path, pair: VethPair) -> tuple[list[str], Done]:
    prog = _tracepoint(mgr, objects)
    args = ["attach", str(prog), "tracepoint", "-t", TRACEPOINT]
    return args, lambda snap: len(snap.links) == 1


def _attach_tcx(mgr: Bpfman, objects: Path, pair: VethPair) -> tuple[list[str], Done]:
    first = _tcx(mgr, objects)
    mgr.attach(first, _where(pair, 100))
    second = _tcx(mgr, objects, owner=first)
    args = ["attach", str(second), "tcx", "-d", "ingress", "-i", pair.if_b, "-p", "50",
            "-n", pair.netns_path_b]  # fmt: skip
    return args, lambda snap: len(snap.links) == 2


def _detach_tracepoint(mgr: Bpfman, objects: Path, pair: VethPair) -> tuple[list[str], Done]:
    link = mgr.attach(_tracepoint(mgr, objects), {"tracepoint": TRACEPOINT})
    return ["detach", str(link.id)], lambda snap: link.id not in snap.links


def _detach_tcx(mgr: Bpfman, objects: Path, pair: VethPair) -> tuple[list[str], Done]:
    first = _tcx(mgr, objects)
    link = mgr.attach(first, _where(pair, 5))
    mgr.attach(_tcx(mgr, objects, owner=first), _where(pair, 6))
    return ["detach", str(link.id)], lambda snap: link.id not in snap.links


def _unload(mgr: Bpfman, objects: Path, pair: VethPair) -> tuple[list[str], Done]:
    prog = _tracepoint(mgr, objects)
    mgr.attach(prog, {"tracepoint": TRACEPOINT})
    return ["unload", str(prog)], lambda snap: prog not in snap.programs


MUTATIONS = [
    Mutation("load", {"tracepoint_counter"}, _load),
    Mutation("attach-tracepoint", {"tracepoint_counter"}, _attach_tracepoint),
    Mutation("attach-tcx", {"tcx_chain"}, _attach_tcx),
    Mutation("detach-tracepoint", {"tracepoint_counter"}, _detach_tracepoint),
    Mutation("detach-tcx", {"tcx_chain"}, _detach_tcx),
    Mutation("unload", {"tracepoint_counter"}, _unload),
]


@pytest.mark.parametrize("mutation", MUTATIONS, ids=lambda m: m.name)
def test_a_failed_store_write_gets_an_honest_exit_status(
    root: Root, objects: Path, mutation: Mutation, tmp_path: Path
) -> None:
    before = set(kernel_programs(mutation.names))
    with VethPair() as pair:
        hooks = [Hook(pair.if_b, pair.netns_path_b)]

        def fresh() -> tuple[list[str], Done]:
            with Bpfman(root.path) as mgr:
                return mutation.setup(mgr, objects, pair)

        calls = counts(root, fresh()[0], STORE_WRITES, tmp_path / "trace")
        unload_all(root)
        found: list[str] = []
        tried = 0
        for syscall in STORE_WRITES:
            for n in points(calls.get(syscall, 0), MOST):
                args, done = fresh()
                proc = tampered(root, args, syscall, n, "error=EIO")
                lines = proc.stderr.splitlines()
                after = root.run("list", "programs", check=False)  # clears what is left
                issues = [] if after.returncode == 0 else [f"list failed: {after.stderr}"]
                issues += problems(root.path, hooks, mutation.names, before)
                if proc.returncode == 0:
                    if not done(state(root.path)):
                        issues.append("exit status 0, but the operation did not happen")
                    if lines and (len(lines) > 1 or not lines[0].startswith("warning: ")):
                        issues.append(f"exit status 0 with {lines}")
                else:
                    if done(state(root.path)):
                        issues.append(f"exit status {proc.returncode}, but it happened")
                    if len(lines) != 1 or not lines[0].startswith("Error: "):
                        issues.append(f"not one error line: {lines}")
                unload_all(root)
                issues += [
                    f"after unload: {p}" for p in problems(root.path, hooks, mutation.names, before)
                ]
                tried += 1
                if issues:
                    found.append(f"{syscall} call {n} ({proc.returncode}): " + "; ".join(issues))
        assert tried >= 2, calls
        assert found == []


# Loads twice in one process; the first load may fail, the second must not.
TWICE = """
import sys
from bpfman.errors import StateError
from bpfman.core.manager import Bpfman
with Bpfman(sys.argv[1]) as mgr:
    try:
        mgr.load_file(sys.argv[2], ["tracepoint:tracepoint_counter"])
    except StateError as exc:
        print(exc, file=sys.stderr)
    mgr.load_file(sys.argv[2], ["tracepoint:tracepoint_counter"])
"""


def test_a_long_lived_process_writes_again_after_a_failed_write(
    root: Root, objects: Path, tmp_path: Path
) -> None:
    """A failed meta page write makes LMDB refuse every later transaction of the
    process (MDB_PANIC): the store reopens it, as a service must."""
    before = set(kernel_programs({"tracepoint_counter"}))
    obj = str(objects / "tracepoint_counter.bpf.o")
    script = [sys.executable, "-c", TWICE, str(root.path), obj]
    trace = tmp_path / "trace"
    first = strace_python(script, "-o", str(trace), "-e", "trace=pwrite64")
    assert first.returncode == 0, first.stderr
    writes = trace.read_text().count("pwrite64(") // 2  # about the first load's share
    unload_all(root)
    found = []
    for n in range(1, writes + 1):
        proc = strace_python(
            script, "-o", "/dev/null", "-e", "trace=pwrite64",
            "-e", f"inject=pwrite64:error=EIO:when={n}",
        )  # fmt: skip
        if proc.returncode != 0:
            found.append(f"pwrite64 call {n}: {proc.stderr.strip().splitlines()[-1]}")
        root.run("list", "programs")
        found += problems(root.path, [], {"tracepoint_counter"}, before)
        unload_all(root)
    assert found == []
