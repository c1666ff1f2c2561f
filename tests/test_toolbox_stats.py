"""Run statistics: `get program` shows the kernel's run_cnt and run_time_ns, and
`system stats --enable` turns counting on for as long as it runs.

Statistics are switched on through BPF_ENABLE_STATS (held by a bpfman process),
never through the global sysctl, so other users of the machine are not affected.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from bpfman.kernel.stats import stats_sysctl
from tests.helpers.root import Root
from tests.helpers.toolbox import FRAME, Background, load_program

TRACEPOINT = "syscalls/sys_enter_getppid"
TRIGGERS = 50


def kernel_block(root: Root, prog: int) -> dict[str, Any]:
    shown: Any = root.json("get", "program", prog)
    return dict(shown["kernel"])


def rows(root: Root, prog: int) -> dict[str, str]:
    text = root.run("get", "program", prog).stdout
    out = {}
    for line in text.splitlines():
        label, sep, value = line.partition(":")
        if sep and label.startswith(" "):
            out[label.strip()] = value.strip()
    return out


@pytest.fixture
def stats_on(root: Root) -> Any:
    with Background(root, "system", "stats", "--enable") as holder:
        assert holder.readline() == "BPF run statistics are on until Ctrl-C"
        yield holder


def test_run_counts_after_test_runs_and_real_triggers(
    root: Root, objects: Path, tmp_path: Path, stats_on: Background
) -> None:
    xdp = load_program(root, objects / "toolbox.bpf.o", "xdp:xdp_toolbox")
    frame = tmp_path / "frame"
    frame.write_bytes(FRAME)
    root.run("run", xdp, "--data-in", frame, "--repeat", TRIGGERS)
    shown = kernel_block(root, xdp)
    assert shown["run_cnt"] == TRIGGERS  # only our test runs reach this program
    assert shown["run_time_ns"] > 0
    text = rows(root, xdp)
    assert text["Run Count"] == str(TRIGGERS)
    assert text["Run Time"] == f"{shown['run_time_ns']} ns"

    tp = load_program(root, objects / "tracepoint_counter.bpf.o", "tracepoint:tracepoint_counter")
    root.run("attach", tp, "tracepoint", "-t", TRACEPOINT)
    for _ in range(TRIGGERS):
        os.getppid()
    # The tracepoint is system-wide: other processes may add runs, never remove ours.
    assert kernel_block(root, tp)["run_cnt"] >= TRIGGERS

    code, err = stats_on.stop()
    assert (code, err) == (0, "")
    if not stats_sysctl():  # nobody else keeps statistics on: counting stops
        before = kernel_block(root, xdp)["run_cnt"]
        root.run("run", xdp, "--data-in", frame, "--repeat", TRIGGERS)
        assert kernel_block(root, xdp)["run_cnt"] == before


def test_hint_when_nothing_was_counted(root: Root, objects: Path) -> None:
    xdp = load_program(root, objects / "xdp_chain.bpf.o", "xdp:xdp_chain")
    shown = kernel_block(root, xdp)
    assert (shown["run_cnt"], shown["run_time_ns"]) == (0, 0)
    assert shown["bpf_stats_enabled"] == stats_sysctl()
    count = rows(root, xdp)["Run Count"]
    if stats_sysctl():
        assert count == "0"
    else:
        assert count.startswith("0 (statistics may be off: `bpfman system stats --enable`")


def test_stats_status_and_timed_enable(root: Root) -> None:
    status = root.run("system", "stats").stdout
    assert status.startswith(f"kernel.bpf_stats_enabled = {int(bool(stats_sysctl()))}\n")
    assert root.json("system", "stats") == {"bpf_stats_enabled": stats_sysctl()}
    start = time.monotonic()
    timed = root.run("system", "stats", "--enable", "--duration", "1")
    assert timed.stdout == "BPF run statistics are on for 1 s\n"
    assert 1.0 <= time.monotonic() - start < 10
    line = root.fail("system", "stats", "--duration", "1")
    assert "--duration needs --enable" in line


def test_enable_ends_cleanly_on_sigterm(root: Root) -> None:
    """`timeout` and systemd stop with SIGTERM: statistics go off, exit status 0."""
    with Background(root, "system", "stats", "--enable") as holder:
        holder.readline()
        assert holder.stop(signal.SIGTERM) == (0, "")
