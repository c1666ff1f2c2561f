"""CLI latency: median wall time of bpfman commands as a ratio to a bare Python start.

Each figure is measured against ``python -I -c pass`` run in the same process,
alternating the two, so machine load affects both alike. Target: ``list
programs`` within 5x of the bare interpreter start.

    python -m bench.cli_latency [--runs N]
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
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BPFMAN = [str(Path(sys.executable).with_name("bpfman"))]
PEER = [sys.executable, "-I", "-c", "pass"]


def wall(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def compare(cmd: list[str], env: dict[str, str], runs: int) -> tuple[float, float]:
    ours, peer = [], []
    wall(cmd, env)  # warm the page cache
    for _ in range(runs):
        ours.append(wall(cmd, env))
        peer.append(wall(PEER, env))
    return statistics.median(ours), statistics.median(peer)


def load_programs(root: Path, count: int) -> None:
    from bpfman.core.manager import Bpfman
    from tests.helpers.build import bpf_object

    mgr = Bpfman(root)
    obj = bpf_object("tracepoint_counter")
    for _ in range(count):
        mgr.load_file(obj, ["tracepoint:tracepoint_counter"], metadata={"bench": "1"})
    mgr.close()


def unload_all(root: Path) -> None:
    from bpfman.core.manager import Bpfman

    mgr = Bpfman(root)
    for row in mgr.list_programs():
        mgr.unload(row.id)
    mgr.close()
    subprocess.run(["umount", str(root / "fs")], check=False)
    shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bpfman-bench-"))
    env = {**os.environ, "BPFMAN_ROOT": str(root)}
    rows = []
    try:
        rows.append(("bpfman --help", *compare([*BPFMAN, "--help"], env, args.runs)))
        rows.append(
            ("list programs (empty)", *compare([*BPFMAN, "list", "programs"], env, args.runs))
        )
        load_programs(root, 100)
        rows.append(
            ("list programs (100)", *compare([*BPFMAN, "list", "programs"], env, args.runs))
        )
    finally:
        unload_all(root)
    print(f"{'command':<24}{'median':>10}{'python -I':>12}{'ratio':>8}")
    for name, ours, peer in rows:
        print(f"{name:<24}{ours * 1000:>8.1f}ms{peer * 1000:>10.1f}ms{ours / peer:>7.2f}x")


if __name__ == "__main__":
    main()
