"""Restoring a host from a declaration against restoring it one command at a time.

N tracepoint programs, each with its own global and one link: ``bpfman system apply``
of a declaration saying so, against the ``bpfman load file`` and ``bpfman attach``
commands a boot script would run for them (the peer), both as processes from an
empty root. Also the apply that finds nothing to do. Printed as a ratio.

    python -m bench.declared [--programs N]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.helpers.build import bpf_object

BPFMAN = [sys.executable, "-m", "bpfman"]
# Spread over four: the kernel runs at most 64 programs on one tracepoint.
TRACEPOINTS = tuple(f"syscalls/sys_enter_{c}" for c in ("getppid", "getpid", "getuid", "getgid"))


def bpfman(root: Path, *args: str) -> str:
    env = {**os.environ, "BPFMAN_ROOT": str(root)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # users have bytecode caches
    proc = subprocess.run([*BPFMAN, *args], env=env, capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"bpfman {' '.join(args)}: {proc.stderr.strip()}")
    return proc.stdout


def declaration(obj: Path, count: int) -> str:
    parts = []
    for i in range(count):
        parts.append(
            f'[[program]]\nname = "counter-{i}"\ntype = "tracepoint"\n'
            f'function = "tracepoint_counter"\nfile = "{obj}"\n'
            f'globals = {{ target_pid = "{i.to_bytes(4, "little").hex()}" }}\n'
            f'[[link]]\nprogram = "counter-{i}"\n'
            f'options = {{ tracepoint = "{TRACEPOINTS[i % len(TRACEPOINTS)]}" }}\n'
        )
    return "".join(parts)


def one_at_a_time(root: Path, obj: Path, count: int) -> float:
    start = time.perf_counter()
    for i in range(count):
        loaded = bpfman(
            root, "load", "file", "-p", str(obj), "--programs", "tracepoint:tracepoint_counter",
            "-g", f"target_pid={i.to_bytes(4, 'little').hex()}", "-o", "json",
        )  # fmt: skip
        prog = str(json.loads(loaded)[0]["id"])
        bpfman(root, "attach", prog, "tracepoint", "-t", TRACEPOINTS[i % len(TRACEPOINTS)])
    return time.perf_counter() - start


def timed(root: Path, *args: str) -> float:
    start = time.perf_counter()
    bpfman(root, *args)
    return time.perf_counter() - start


def fresh() -> Path:
    return Path(tempfile.mkdtemp(prefix="bpfman-bench-"))


def drop(root: Path) -> None:
    """Unload everything (one apply --prune of an empty declaration), then the root."""
    empty = root / "empty.toml"
    empty.write_text("")
    bpfman(root, "system", "apply", "--prune", str(empty))
    subprocess.run(["umount", str(root / "fs")], check=False, stderr=subprocess.DEVNULL)
    shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--programs", type=int, default=100)
    args = parser.parse_args()
    obj = bpf_object("tracepoint_counter")
    work = fresh()
    declared = work / "host.toml"
    declared.write_text(declaration(obj, args.programs))
    bpfman(work, "list", "programs")  # warm the bytecode caches
    roots = [fresh(), fresh()]
    try:
        peer = one_at_a_time(roots[0], obj, args.programs)
        ours = timed(roots[1], "system", "apply", str(declared))
        again = timed(roots[1], "system", "apply", str(declared))
        matches = bpfman(roots[1], "system", "save") == bpfman(roots[0], "system", "save")
    finally:
        for root in [*roots, work]:
            drop(root)
    n = args.programs
    print(f"restore {n} programs with a link each{'':<8}{'total':>10}{'per program':>14}")
    print(f"{'bpfman system apply':<44}{ours:>9.2f}s{ours / n * 1e3:>12.1f}ms")
    print(f"{'load file + attach, one command each':<44}{peer:>9.2f}s{peer / n * 1e3:>12.1f}ms")
    print(f"{'apply again (nothing to do)':<44}{again:>9.2f}s")
    print(f"apply is {peer / ours:.1f}x faster; both hosts save the same declaration: {matches}")


if __name__ == "__main__":
    main()
