"""bpfman profile: the shipped profiler object, the host kernel's answer, and
(in the VM lane, where fentry loads) counts of a program under real traffic."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from bpfman.toolbox.profile import MAX_METRICS, METRICS, PROFILER, Profile, Reading
from tests.helpers import run
from tests.helpers.net import VethPair
from tests.helpers.root import REPO, Root
from tests.helpers.toolbox import Background, load_program
from tests.test_dispatcher import _sections

PORT = 4242


def test_shipped_profiler_matches_its_source(tmp_path: Path) -> None:
    run(["make", "-s", "-C", str(REPO / "bpf" / "profiler"), f"OUT={tmp_path}"])
    shipped = tmp_path / "shipped" / "profiler.o"
    shipped.parent.mkdir()
    shipped.write_bytes(PROFILER.read_bytes())
    rebuilt = _sections(tmp_path / "profiler.o")
    assert {"fentry/target", "fexit/target", ".rodata"} <= set(rebuilt)
    assert _sections(shipped) == rebuilt, (
        f"{PROFILER} is stale: run `make -C bpf/profiler` and commit it"
    )


def test_staleness_check_notices_a_changed_source(tmp_path: Path) -> None:
    src = tmp_path / "src"
    shutil.copytree(REPO / "bpf" / "profiler", src)
    source = src / "profiler.bpf.c"
    source.write_text(source.read_text().replace("*count += 1;", "*count += 2;"))
    run(["make", "-s", "-C", str(src), f"OUT={tmp_path / 'out'}"])
    shipped = tmp_path / "shipped.o"
    shipped.write_bytes(PROFILER.read_bytes())
    assert _sections(tmp_path / "out" / "profiler.o") != _sections(shipped)


def test_every_metric_fits_the_profiler() -> None:
    source = (REPO / "bpf" / "profiler" / "profiler.bpf.c").read_text()
    assert f"#define MAX_METRICS {MAX_METRICS}\n" in source
    assert len(METRICS) <= MAX_METRICS


def test_profiler_ships_in_the_package() -> None:
    tracked = subprocess.run(
        ["git", "ls-files", "bpfman/toolbox/objects"], cwd=REPO, capture_output=True, text=True
    ).stdout.split()
    assert tracked == ["bpfman/toolbox/objects/profiler.o"]


def test_profile_answers_on_one_line_where_fentry_is_refused(root: Root, objects: Path) -> None:
    """The host kernel refuses fentry/fexit (EPERM): one clear line, exit 5."""
    prog = load_program(root, objects / "toolbox.bpf.o", "xdp:xdp_toolbox")
    proc = root.run("profile", prog, "--duration", "1", "cpu_clock", check=False)
    if proc.returncode == 0:  # a kernel that allows fentry (not this sandbox's)
        assert proc.stdout.split()[1] == "run_cnt"
        return
    assert proc.returncode == 5, proc.stderr
    assert proc.stderr == (
        "Error: the kernel refuses fentry/fexit programs (EPERM), "
        f"which profile loads around program {prog}\n"
    )


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["1"], "Missing argument '<METRICS>...'"),
        (["1", "bogus"], "'bogus' is not one of"),
        (["1", "cycles", "--duration", "0"], "--duration"),
        (["4294967295", "cycles"], "no program with id 4294967295"),
    ],
)
def test_profile_bad_input_is_one_line(root: Root, args: list[str], needle: str) -> None:
    assert needle in root.fail("profile", *args)


def test_profile_rendering() -> None:
    cycles = Reading(METRICS["cycles"], 2000, 100, 100)
    insns = Reading(METRICS["instructions"], 1000, 100, 50)  # ran half the time: doubled
    llc = Reading(METRICS["llc_misses"], 3, 100, 100)
    result = Profile(17, [cycles, insns, llc])
    assert result.text().splitlines() == [
        "                17 run_cnt",
        "              2000 cycles",
        "              2000 instructions    #      1.00 insns per cycle  (50.00%)",
        "                 3 llc_misses      #   1500.00 LLC misses per million insns",
    ]
    data = result.json()
    assert data["run_cnt"] == 17
    assert data["metrics"][1] == {
        "name": "instructions",
        "value": 2000,
        "counter": 1000,
        "enabled_ns": 100,
        "running_ns": 50,
        "ratio": {"what": "insns per cycle", "value": 1.0},
    }


@pytest.mark.vm
def test_profile_counts_a_program_under_traffic(root: Root, objects: Path) -> None:
    """xdp_chain on a veth (attached directly), profiled while UDP flows through it."""
    root.env["BPFMAN_FREPLACE"] = "0"  # a plain XDP program, not a dispatcher extension
    with VethPair() as pair:
        prog = load_program(root, objects / "xdp_chain.bpf.o", "xdp:xdp_chain")
        root.run("attach", prog, "xdp", "-i", pair.if_b, "-p", 1, "-n", pair.netns_path_b)
        sent = 0
        with Background(
            root, "profile", prog, "--duration", "6", "cpu_clock", "-o", "json"
        ) as profiler:
            deadline = time.monotonic() + 120
            while profiler.proc.poll() is None and time.monotonic() < deadline:
                pair.send_udp(10, PORT)
                sent += 10
                time.sleep(0.2)
            code, out, err = profiler.finish(timeout=30)
        assert code == 0, err
        result = json.loads(out)
        assert 0 < result["run_cnt"] <= sent + 50  # our datagrams, plus a little chatter
        (clock,) = result["metrics"]
        assert clock["name"] == "cpu_clock" and clock["value"] > 0
        assert pair.udp_received(PORT, 1, timeout=2.0) == 1  # the traffic went through

        # Hardware counters: counted where the CPU has them, else one clear line.
        proc = root.run("profile", prog, "--duration", "1", "cycles", check=False)
        if proc.returncode:
            assert proc.stderr.startswith("Error: cycles: this machine has no such counter")
            assert len(proc.stderr.splitlines()) == 1
        else:
            assert proc.stdout.split()[1] == "run_cnt"
