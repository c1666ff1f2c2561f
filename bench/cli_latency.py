"""CLI latency: median wall time of bpfman commands as a ratio to a bare Python start.

Each command alternates with two peers, so machine load affects all alike:
``python -I -c pass`` (the interpreter's start) and the floor, a process that
only imports the dependencies ``load file`` cannot do without (typing,
dataclasses, pathlib, msgpack, lmdb, pluggy and the cffi backend). Targets:
``list programs`` on 1,000 programs within 3x of the interpreter's start,
``list links`` and ``program list -q`` with filters within 1.2x of ``list
programs``, ``load file`` within 1.25x of
the floor, and ``load file`` and ``attach`` flat in the number of programs
already loaded (within 1.2x from 10 to 1,000, each program with a link).

    python -m bench.cli_latency [--runs N] [--many N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from bpfman.core.manager import Bpfman

REPO = Path(__file__).resolve().parent.parent
BPFMAN = [str(Path(sys.executable).with_name("bpfman"))]
PEER = [sys.executable, "-I", "-c", "pass"]
FLOOR = [
    sys.executable,
    "-c",
    "import typing, dataclasses, pathlib, msgpack, lmdb, pluggy, _cffi_backend",
]
TRACEFS = Path("/sys/kernel/tracing/events/syscalls")
# The filters scripts combine: a bpfman type name, a selector, attachment, ids only.
FILTERED = ["program", "list", "-q", "-p", "tracepoint", "-l", "owner!=x", "--attached"]


def wall(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


class Row(NamedTuple):
    """Medians of a command's wall time, of PEER's and FLOOR's, and of its ratios to them.

    The ratios are medians of each round's own (the three run back to back), which
    a machine whose load drifts during the measurement disturbs less.
    """

    name: str
    ours: float
    peer: float
    floor: float
    to_peer: float
    to_floor: float


def compare(
    name: str,
    cmd: list[str] | Callable[[], list[str]],
    env: dict[str, str],
    runs: int,
    after: Callable[[], None] = lambda: None,
) -> Row:
    """``cmd`` against the bare interpreter and the floor; ``after`` undoes each run."""
    make = cmd if callable(cmd) else (lambda: cmd)
    rounds = []
    wall(make(), env)  # warm the page cache
    after()
    for _ in range(runs):
        ours = wall(make(), env)
        after()
        rounds.append((ours, wall(PEER, env), wall(FLOOR, env)))
    ours, peer, floor = (statistics.median(column) for column in zip(*rounds, strict=True))
    return Row(
        name,
        ours,
        peer,
        floor,
        statistics.median(o / p for o, p, _ in rounds),
        statistics.median(o / f for o, _, f in rounds),
    )


def tracepoints() -> list[str]:
    """Distinct syscall tracepoints: a tracepoint holds at most 64 programs."""
    return sorted(f"syscalls/{p.name}" for p in TRACEFS.iterdir() if p.name.startswith("sys_"))


def manager(root: Path) -> Bpfman:
    """A manager for the bench's own bookkeeping that leaves ``plugins.cache`` alone.

    The cache keeps the entry points found for one ``sys.path``; this process's
    differs from the ``bpfman`` script's, so writing it here would make the
    next measured command scan the installed distributions again.
    """
    from bpfman.core.manager import Bpfman
    from bpfman.core.plugins import get_plugin_manager

    return Bpfman(root, get_plugin_manager())


def fill(root: Path, count: int) -> int:
    """Load ``count`` programs, each with a tracepoint link; return one program id."""
    from tests.helpers.build import bpf_object

    points = tracepoints()
    with manager(root) as mgr:
        have = len(mgr.list_programs())
        obj = bpf_object("tracepoint_counter")
        prog = 0
        for i in range(have, count):
            [record] = mgr.load_file(obj, ["tracepoint:tracepoint_counter"])
            mgr.attach(record.id, {"tracepoint": points[i % len(points)]})
            prog = record.id
        return prog or mgr.list_programs()[0].id


def unload_all(root: Path) -> None:
    with manager(root) as mgr:
        for row in mgr.list_programs():
            mgr.unload(row.id)
    subprocess.run(["umount", str(root / "fs")], check=False)
    shutil.rmtree(root, ignore_errors=True)


def _undo_last(root: Path, kind: str) -> Callable[[], None]:
    def undo() -> None:
        with manager(root) as mgr:
            if kind == "load":
                newest = max(row.id for row in mgr.list_programs())
                mgr.unload(newest)
            else:
                newest_link = max(mgr.list_links(), key=lambda d: d.link.seq)
                mgr.detach(newest_link.link.id)

    return undo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--many", type=int, default=1000)
    args = parser.parse_args()
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # users have bytecode caches
    root = Path(tempfile.mkdtemp(prefix="bpfman-bench-"))
    env = {**os.environ, "BPFMAN_ROOT": str(root)}
    obj = str(REPO / "build" / "bpf" / "tracepoint_counter.bpf.o")
    load = [*BPFMAN, "load", "file", "-p", obj, "--programs", "tracepoint:tracepoint_counter"]
    programs, links = [*BPFMAN, "list", "programs"], [*BPFMAN, "list", "links"]
    rows: list[Row] = []
    flat: dict[str, list[float]] = {"load file": [], "attach tracepoint": []}
    try:
        rows.append(compare("bpfman --help", [*BPFMAN, "--help"], env, args.runs))
        rows.append(compare("list programs (empty)", programs, env, args.runs))
        for count in (10, args.many):
            prog = fill(root, count)
            if count == 10:
                rows.append(compare("list programs (10)", programs, env, args.runs))
                rows.append(compare("list links (10)", links, env, args.runs))
                filtered = [*BPFMAN, *FILTERED]
                rows.append(compare("list programs -q, filters", filtered, env, args.runs))
            row = compare(f"load file ({count})", load, env, args.runs, _undo_last(root, "load"))
            rows.append(row)
            flat["load file"].append(row.to_peer)
            attach = [
                *BPFMAN,
                "attach",
                str(prog),
                "tracepoint",
                "-t",
                "syscalls/sys_enter_getppid",
            ]
            row = compare(
                f"attach tracepoint ({count})", attach, env, args.runs, _undo_last(root, "attach")
            )
            rows.append(row)
            flat["attach tracepoint"].append(row.to_peer)
        rows.append(compare(f"list programs ({args.many})", programs, env, args.runs))
        rows.append(compare(f"list links ({args.many})", links, env, args.runs))
    finally:
        unload_all(root)
    report(rows, flat, args.many)


def report(rows: list[Row], flat: dict[str, list[float]], many: int) -> None:
    """The table, then the ratios each target is about."""
    print(f"{'command':<28}{'median':>10}{'python -I':>12}{'ratio':>8}{'floor':>10}{'ratio':>8}")
    for row in rows:
        print(
            f"{row.name:<28}{row.ours * 1000:>8.1f}ms{row.peer * 1000:>10.1f}ms"
            f"{row.to_peer:>7.2f}x{row.floor * 1000:>8.1f}ms{row.to_floor:>7.2f}x"
        )
    by_name = {row.name: row for row in rows}
    floor = statistics.median(row.floor / row.peer for row in rows)
    print(f"floor (imports only) / python -I: {floor:.2f}x")
    listed, loaded = by_name[f"list programs ({many})"], by_name[f"load file ({many})"]
    print(f"list programs ({many}) / python -I: {listed.to_peer:.2f}x (target <= 3x)")
    print(f"load file ({many}) / floor: {loaded.to_floor:.2f}x (target <= 1.25x)")
    # Ratios of ratios: each side is already relative to python -I run beside it.
    links, programs = by_name["list links (10)"].to_peer, by_name["list programs (10)"].to_peer
    print(f"list links / list programs (10): {links / programs:.2f}x (target <= 1.2x)")
    filtered = by_name["list programs -q, filters"].to_peer
    print(
        f"list programs -q, filters / list programs (10): {filtered / programs:.2f}x (target <= 1.2x)"
    )
    for name, (small, big) in flat.items():
        print(f"{name}: {many} programs / 10 programs = {big / small:.2f}x (target <= 1.2x)")


if __name__ == "__main__":
    main()
