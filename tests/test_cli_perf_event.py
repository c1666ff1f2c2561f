"""perf_event programs through the real CLI: samples are counted, detach stops them.

``perf_event_counter`` counts samples per CPU. Software events work everywhere,
including virtual machines without a hardware PMU (this one), where asking for
a hardware event is a clean refusal that leaves nothing behind.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bpfman.kernel.perf import online_cpus
from tests.helpers import shown_rows, u32_hex
from tests.helpers.bpftool import link_infos, map_values
from tests.helpers.root import Root
from tests.helpers.wait import eventually

BUSY = "import time\nend = time.monotonic() + float(__import__('sys').argv[1])\nwhile time.monotonic() < end: pass\n"


def load(root: Root, objects: Path, *extra: str) -> int:
    loaded: Any = root.json(
        "load",
        "file",
        "-p",
        objects / "perf_event_counter.bpf.o",
        "--programs",
        "perf_event:perf_event_counter",
        *extra,
    )
    return int(loaded[0]["id"])


def attach(root: Root, prog: int, *args: str) -> dict[str, Any]:
    out = root.run("attach", "--output", "json", prog, "perf_event", *args)
    link: dict[str, Any] = json.loads(out.stdout)
    return link


def samples(root: Root, prog: int) -> dict[int, int]:
    return {
        cpu: n
        for cpu, n in map_values(str(root.path / "fs" / "maps" / str(prog) / "counts")).items()
        if n
    }


def busy(seconds: float) -> None:
    """Keep every CPU busy for a while (a child per CPU), so every CPU takes samples."""
    procs = [subprocess.Popen([sys.executable, "-c", BUSY, str(seconds)]) for _ in online_cpus()]
    for proc in procs:
        assert proc.wait(timeout=60) == 0


def test_every_cpu_samples_under_one_link_and_detach_stops(root: Root, objects: Path) -> None:
    prog = load(root, objects)
    cpus = online_cpus()
    link = attach(root, prog, "--event", "cpu-clock", "--frequency", "1000")
    pins = root.path / "fs" / "perf_event" / str(link["id"])
    assert sorted(p.name for p in pins.iterdir()) == sorted(f"cpu{cpu}" for cpu in cpus)
    assert len(link_infos(prog)) == len(cpus)
    assert [row["id"] for row in root.json("list", "links")] == [link["id"]]
    cpu_text = f"{cpus[0]}-{cpus[-1]}" if len(cpus) > 1 else str(cpus[0])
    assert link["attachment"] == f"cpu-clock 1000 Hz cpus {cpu_text}"
    rows = shown_rows(root.run("get", "link", link["id"]).stdout)
    assert (rows["Event"], rows["Rate"], rows["CPUs"], rows["PID"]) == (
        "cpu-clock",
        "1000 Hz",
        cpu_text,
        "None",
    )

    busy(0.5)
    assert eventually(lambda: set(samples(root, prog)) == set(cpus))

    root.run("detach", link["id"])
    assert not pins.exists()
    assert eventually(lambda: link_infos(prog) == [])
    before = samples(root, prog)
    busy(0.3)
    assert samples(root, prog) == before


def test_one_cpu_or_one_process(root: Root, objects: Path) -> None:
    prog = load(root, objects)
    cpu = online_cpus()[-1]
    on_cpu = attach(root, prog, "-e", "cpu-clock", "--period", "1000000", "--cpu", str(cpu))
    assert on_cpu["attachment"] == f"cpu-clock 1 in 1000000 events cpus {cpu}"
    busy(0.3)
    assert eventually(lambda: set(samples(root, prog)) == {cpu})
    root.run("detach", on_cpu["id"])

    # Only the busy child is sampled: the program counts the samples of its pid.
    child = subprocess.Popen([sys.executable, "-c", BUSY, "600"])
    try:
        other = load(root, objects, "-g", f"target_pid={u32_hex(child.pid)}")
        by_pid = attach(root, other, "-e", "task-clock", "-f", "500", "--pid", str(child.pid))
        rows = shown_rows(root.run("get", "link", by_pid["id"]).stdout)
        assert (rows["CPUs"], rows["PID"]) == ("any", str(child.pid))
        assert (root.path / "fs" / "perf_event" / str(by_pid["id"]) / f"pid{child.pid}").exists()
        assert eventually(lambda: sum(samples(root, other).values()) > 0)
    finally:
        child.kill()
        child.wait(timeout=60)
    settled = samples(root, other)
    time.sleep(0.3)
    assert samples(root, other) == settled  # the process is gone, so are its samples


def test_refusals_are_one_line_and_leave_nothing(root: Root, objects: Path) -> None:
    prog = load(root, objects)
    if os.path.exists("/sys/bus/event_source/devices/cpu"):  # a machine with a hardware PMU
        root.run("detach", attach(root, prog, "-e", "cycles", "-f", "99")["id"])
    else:
        message = root.fail("attach", prog, "perf_event", "-e", "cycles", "-f", "99")
        assert message.startswith("Error: hardware event cpu-cycles is not available here")
    assert "exactly one of --frequency and --period" in root.fail(
        "attach", prog, "perf_event", "-e", "cpu-clock"
    )
    assert "exactly one of --frequency and --period" in root.fail(
        "attach", prog, "perf_event", "-e", "cpu-clock", "-f", "1", "--period", "2"
    )
    assert "unknown event 'cpu_clock'" in root.fail(
        "attach", prog, "perf_event", "-e", "cpu_clock", "-f", "1"
    )
    assert "--cpu or --pid, not both" in root.fail(
        "attach", prog, "perf_event", "-e", "cpu-clock", "-f", "1", "-c", "0", "-p", "1"
    )
    assert "is not online" in root.fail(
        "attach", prog, "perf_event", "-e", "cpu-clock", "-f", "1", "-c", "4096"
    )
    assert root.fail("attach", prog, "perf_event", "-e", "cs", "-f", "1", "-p", "999999999") == (
        "Error: no process with pid 999999999"
    )
    assert "kernel.perf_event_max_sample_rate" in root.fail(
        "attach", prog, "perf_event", "-e", "cpu-clock", "-f", "100000000"
    )
    assert root.json("list", "links") == []
    assert link_infos(prog) == []
    perf_dir = root.path / "fs" / "perf_event"
    assert not perf_dir.exists() or not list(perf_dir.iterdir())
