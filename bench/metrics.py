"""Metrics scrape cost: one ``GET /metrics`` with 1,000 programs loaded.

The server is the real ``bpfman system metrics`` process; each scrape is an
HTTP request as Prometheus makes it. The peer, run alternately in the same
process, is ``bpftool -j prog show``, which reads the same kernel facts for
every program. Target: a scrape under 200 ms. Needs root.

    python -m bench.metrics [--programs N] [--runs N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench.cli_latency import unload_all

BPFMAN = str(Path(sys.executable).with_name("bpfman"))
PEER = ["bpftool", "-j", "prog", "show"]
TARGET_S = 0.200


def load_programs(root: Path, count: int) -> None:
    from bpfman.core.manager import Bpfman
    from tests.helpers.build import bpf_object

    mgr = Bpfman(root)
    obj = bpf_object("tracepoint_counter")
    for i in range(count):
        mgr.load_file(
            obj, ["tracepoint:tracepoint_counter"], metadata={"bpfman_application": f"app{i % 10}"}
        )
    mgr.close()


def scrape(url: str) -> tuple[float, int]:
    start = time.perf_counter()
    with urllib.request.urlopen(url, timeout=30) as response:
        size = len(response.read())
    return time.perf_counter() - start, size


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process: unlike wall time, not inflated by
    other work on the machine."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peer() -> float:
    start = time.perf_counter()
    subprocess.run(PEER, stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--programs", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bpfman-bench-"))
    env = {**os.environ, "BPFMAN_ROOT": str(root)}
    server = None
    try:
        load_programs(root, args.programs)
        server = subprocess.Popen(
            [BPFMAN, "system", "metrics", "--listen", "127.0.0.1:0"],
            env=env,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert server.stdout is not None
        url = server.stdout.readline().split()[-1]
        scrape(url)  # warm: imports, page cache
        ours, theirs, size = [], [], 0
        cpu_before = cpu_seconds(server.pid)
        for _ in range(args.runs):
            seconds, size = scrape(url)
            ours.append(seconds)
            theirs.append(peer())
        cpu = (cpu_seconds(server.pid) - cpu_before) / args.runs
    finally:
        if server is not None:
            server.terminate()
            server.wait()
        unload_all(root)
    median, peer_median = statistics.median(ours), statistics.median(theirs)
    verdict = "ok" if median < TARGET_S else "OVER TARGET"
    print(f"{'scrape /metrics':<34}{'median':>10}{'bpftool prog show':>20}{'ratio':>8}")
    print(
        f"{f'{args.programs} programs, {size // 1024} KiB':<34}{median * 1000:>8.1f}ms"
        f"{peer_median * 1000:>18.1f}ms{median / peer_median:>7.2f}x"
    )
    print(f"server CPU time per scrape: {cpu * 1000:.1f} ms; load average {os.getloadavg()[0]:.1f}")
    print(f"target < {TARGET_S * 1000:.0f} ms: {verdict}")


if __name__ == "__main__":
    main()
