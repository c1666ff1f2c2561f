"""What the intent journal costs an attach.

Attaches (and detaches again) a tracepoint program many times in one
process, once as bpfman runs, once with the journal's writes skipped (the
peer: the same attach without its crash safety). Printed as a ratio; target:
the journal adds at most 10% to an attach.

    python -m bench.journal [--rounds N]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bpfman.core import journal
from bpfman.core.manager import Bpfman
from bpfman.core.state import Txn
from tests.helpers.build import bpf_object


def attach_times(root: Path, rounds: int) -> list[float]:
    with Bpfman(root) as mgr:
        [prog] = mgr.load_file(bpf_object("tracepoint_counter"), ["tracepoint:tracepoint_counter"])
        times = []
        for _ in range(rounds):
            start = time.perf_counter()
            link = mgr.attach(prog.id, {"tracepoint": "syscalls/sys_enter_getppid"})
            times.append(time.perf_counter() - start)
            mgr.detach(link.id)
        mgr.unload(prog.id)
    return times


def without_journal(run: Callable[[], list[float]]) -> list[float]:
    """``run`` with every journal write (intents, retire lists, clears) a no-op."""
    patched: list[tuple[Any, str]] = [
        (journal.Operation, "_write"),
        (journal.Operation, "_clear"),
        (Txn, "journal_put"),
        (Txn, "journal_delete"),
    ]
    saved = [(owner, name, getattr(owner, name)) for owner, name in patched]
    for owner, name in patched:
        setattr(owner, name, lambda *args: None)
    try:
        return run()
    finally:
        for owner, name, value in saved:
            setattr(owner, name, value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bpfman-bench-"))
    try:
        attach_times(root, 20)  # warm up
        with_j, without_j = [], []
        for _ in range(5):  # alternate, so machine load weighs on both alike
            with_j += attach_times(root, args.rounds // 5)
            without_j += without_journal(lambda: attach_times(root, args.rounds // 5))
    finally:
        subprocess.run(["umount", str(root / "fs")], check=False)
        shutil.rmtree(root, ignore_errors=True)
    ours, peer = statistics.median(with_j), statistics.median(without_j)
    print(f"{'attach (tracepoint)':<28}{'median':>10}")
    print(f"{'with the intent journal':<28}{ours * 1e3:>8.2f}ms")
    print(f"{'without it':<28}{peer * 1e3:>8.2f}ms")
    print(f"journal cost: {ours / peer:.2f}x (target <= 1.10x)")


if __name__ == "__main__":
    main()
