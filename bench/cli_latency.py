"""CLI latency: median wall time of bpfman commands as a ratio to a bare Python start.

Each figure is measured against ``python -I -c pass`` run in the same process,
alternating the two, so machine load affects both alike. Targets: ``list
programs`` within 5x of the bare interpreter start, ``list links`` and
``program list -q`` with filters within 1.2x of ``list programs``, ``load
file`` within 4x, and ``load file`` and ``attach`` flat in the number of programs already loaded (within 1.2x from
10 to 1,000, each program with a link).

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

REPO = Path(__file__).resolve().parent.parent
BPFMAN = [str(Path(sys.executable).with_name("bpfman"))]
PEER = [sys.executable, "-I", "-c", "pass"]
TRACEFS = Path("/sys/kernel/tracing/events/syscalls")
# The filters scripts combine: a bpfman type name, a selector, attachment, ids only.
FILTERED = ["program", "list", "-q", "-p", "tracepoint", "-l", "owner!=x", "--attached"]


def wall(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def compare(
    cmd: list[str] | Callable[[], list[str]],
    env: dict[str, str],
    runs: int,
    after: Callable[[], None] = lambda: None,
) -> tuple[float, float]:
    """Median of ``cmd`` and of the bare interpreter; ``after`` undoes each run."""
    make = cmd if callable(cmd) else (lambda: cmd)
    ours, peer = [], []
    wall(make(), env)  # warm the page cache
    after()
    for _ in range(runs):
        ours.append(wall(make(), env))
        after()
        peer.append(wall(PEER, env))
    return statistics.median(ours), statistics.median(peer)


def tracepoints() -> list[str]:
    """Distinct syscall tracepoints: a tracepoint holds at most 64 programs."""
    return sorted(f"syscalls/{p.name}" for p in TRACEFS.iterdir() if p.name.startswith("sys_"))


def fill(root: Path, count: int) -> int:
    """Load ``count`` programs, each with a tracepoint link; return one program id."""
    from bpfman.core.manager import Bpfman
    from tests.helpers.build import bpf_object

    points = tracepoints()
    with Bpfman(root) as mgr:
        have = len(mgr.list_programs())
        obj = bpf_object("tracepoint_counter")
        prog = 0
        for i in range(have, count):
            [record] = mgr.load_file(obj, ["tracepoint:tracepoint_counter"])
            mgr.attach(record.id, {"tracepoint": points[i % len(points)]})
            prog = record.id
        return prog or mgr.list_programs()[0].id


def unload_all(root: Path) -> None:
    from bpfman.core.manager import Bpfman

    with Bpfman(root) as mgr:
        for row in mgr.list_programs():
            mgr.unload(row.id)
    subprocess.run(["umount", str(root / "fs")], check=False)
    shutil.rmtree(root, ignore_errors=True)


def _undo_last(root: Path, kind: str) -> Callable[[], None]:
    def undo() -> None:
        from bpfman.core.manager import Bpfman

        with Bpfman(root) as mgr:
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
    rows = []
    flat: dict[str, list[float]] = {"load file": [], "attach tracepoint": []}
    try:
        rows.append(("bpfman --help", *compare([*BPFMAN, "--help"], env, args.runs)))
        rows.append(
            ("list programs (empty)", *compare([*BPFMAN, "list", "programs"], env, args.runs))
        )
        for count in (10, args.many):
            prog = fill(root, count)
            if count == 10:
                lp = compare([*BPFMAN, "list", "programs"], env, args.runs)
                ll = compare([*BPFMAN, "list", "links"], env, args.runs)
                lf = compare([*BPFMAN, *FILTERED], env, args.runs)
                rows += [
                    ("list programs (10)", *lp),
                    ("list links (10)", *ll),
                    ("list programs -q, filters", *lf),
                ]
            ours = compare(load, env, args.runs, _undo_last(root, "load"))
            rows.append((f"load file ({count})", *ours))
            flat["load file"].append(ours[0])
            attach = [
                *BPFMAN,
                "attach",
                str(prog),
                "tracepoint",
                "-t",
                "syscalls/sys_enter_getppid",
            ]
            ours = compare(attach, env, args.runs, _undo_last(root, "attach"))
            rows.append((f"attach tracepoint ({count})", *ours))
            flat["attach tracepoint"].append(ours[0])
        lp = compare([*BPFMAN, "list", "programs"], env, args.runs)
        ll = compare([*BPFMAN, "list", "links"], env, args.runs)
        rows += [(f"list programs ({args.many})", *lp), (f"list links ({args.many})", *ll)]
    finally:
        unload_all(root)
    print(f"{'command':<28}{'median':>10}{'python -I':>12}{'ratio':>8}")
    for name, ours_s, peer_s in rows:
        print(f"{name:<28}{ours_s * 1000:>8.1f}ms{peer_s * 1000:>10.1f}ms{ours_s / peer_s:>7.2f}x")
    by_name = {name: ours_s for name, ours_s, _ in rows}
    base = by_name["list programs (10)"]
    print(f"list links / list programs (10): {by_name['list links (10)'] / base:.2f}x")
    print(
        f"list programs -q, filters / list programs (10): {by_name['list programs -q, filters'] / base:.2f}x"
    )
    for name, (small, big) in flat.items():
        print(f"{name}: {args.many} programs / 10 programs = {big / small:.2f}x")


if __name__ == "__main__":
    main()
