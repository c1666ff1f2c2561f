"""bpfman system metrics: /metrics scraped over HTTP, values checked against
`get program` and the kernel."""

from __future__ import annotations

import signal
import socket
import urllib.request
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.helpers.root import Root
from tests.helpers.toolbox import FRAME, Background, load_program

TRACEPOINT = "syscalls/sys_enter_getppid"
RUNS = 7

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(url: str) -> Samples:
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/plain")
        text = response.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def program_samples(samples: Samples, name: str, prog_id: int) -> dict[str, Any]:
    """Labels and value of ``name`` for one program."""
    for (metric, labels), value in samples.items():
        if metric == name and dict(labels)["id"] == str(prog_id):
            return {**dict(labels), "value": value}
    raise AssertionError(f"no {name} for program {prog_id}")


@pytest.fixture
def server(root: Root) -> Iterator[tuple[Background, str]]:
    with Background(root, "system", "metrics", "--listen", "127.0.0.1:0") as metrics:
        line = metrics.readline()
        assert line.startswith("Serving Prometheus metrics at http://127.0.0.1:"), line
        yield metrics, line.split()[-1]


def test_metrics_match_get_program(
    root: Root, objects: Path, tmp_path: Path, foreign: int, server: tuple[Background, str]
) -> None:
    toolbox = objects / "toolbox.bpf.o"
    xdp = load_program(root, toolbox, "xdp:xdp_toolbox", "-a", "shop")
    tc = load_program(root, toolbox, "tc:tc_toolbox")
    tp = load_program(
        root, objects / "tracepoint_counter.bpf.o", "tracepoint:tracepoint_counter", "-a", "shop"
    )
    root.run("attach", tp, "tracepoint", "-t", TRACEPOINT)
    frame = tmp_path / "frame"
    frame.write_bytes(FRAME)
    with Background(root, "system", "stats", "--enable") as stats:
        stats.readline()
        root.run("run", xdp, "--data-in", frame, "--repeat", RUNS)
    metrics, url = server
    samples = scrape(url)

    assert samples[("bpfman_up", ())] == 1
    shown: dict[int, Any] = {p: root.json("get", "program", p) for p in (xdp, tc, tp)}
    for prog, details in shown.items():
        kern = details["kernel"]
        labels = program_samples(samples, "bpfman_program_xlated_bytes", prog)
        assert labels["name"] == details["bpfman"]["function"]
        assert labels["type"] == details["bpfman"]["type"]
        recorded = details["bpfman"]["metadata"]
        assert labels["application"] == recorded.get("bpfman.io/application", "")
        assert labels["value"] == kern["bytes_xlated"]
        jited = program_samples(samples, "bpfman_program_jited_bytes", prog)["value"]
        assert jited == kern["bytes_jited"]
        memlock = program_samples(samples, "bpfman_program_memlock_bytes", prog)["value"]
        assert memlock == kern["bytes_memlock"]
        links = program_samples(samples, "bpfman_program_links", prog)["value"]
        assert links == len(details["bpfman"]["links"])
    runs = program_samples(samples, "bpfman_program_runs_total", xdp)["value"]
    assert runs == shown[xdp]["kernel"]["run_cnt"] == RUNS
    run_time = program_samples(samples, "bpfman_program_run_time_seconds_total", xdp)["value"]
    assert run_time == pytest.approx(shown[xdp]["kernel"]["run_time_ns"] / 1e9)
    assert program_samples(samples, "bpfman_program_runs_total", tc)["value"] == 0

    assert samples[("bpfman_programs", (("type", "xdp"),))] == 1
    assert samples[("bpfman_programs", (("type", "tc"),))] == 1
    assert samples[("bpfman_programs", (("type", "tracepoint"),))] == 1
    assert samples[("bpfman_links", (("type", "tracepoint"),))] == 1
    assert samples[("bpfman_links", (("type", "xdp"),))] == 0
    map_ids = {m for details in shown.values() for m in details["kernel"]["map_ids"]}
    assert samples[("bpfman_maps", ())] == len(map_ids)
    assert samples[("bpfman_maps_memlock_bytes", ())] > 0
    assert samples[("bpfman_unmanaged_programs", (("kernel_type", "tracepoint"),))] >= 1
    store = sum(p.stat().st_size for p in (root.path / "db").iterdir())
    assert samples[("bpfman_store_size_bytes", ())] == store
    build = [labels for (name, labels) in samples if name == "bpfman_build_info"]
    assert dict(build[0])["version"] == metadata.version("bpfman")

    root.run("unload", tc)  # each scrape reads the state afresh
    again = scrape(url)
    assert ("bpfman_programs", (("type", "tc"),)) not in again
    assert not any(name.startswith("bpfman_program_") and ("id", str(tc)) in labels
                   for name, labels in again)  # fmt: skip

    code, err = metrics.stop()
    assert (code, err) == (0, "")


def test_listen_errors_are_one_line(root: Root) -> None:
    assert "is not HOST:PORT" in root.fail("system", "metrics", "--listen", "nonsense")
    assert "is not HOST:PORT" in root.fail("system", "metrics", "--listen", "127.0.0.1:99999")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        line = root.fail("system", "metrics", "--listen", f"127.0.0.1:{port}")
    assert line == f"Error: cannot listen on 127.0.0.1:{port}: Address already in use"


def test_metrics_ends_cleanly_on_sigterm(server: tuple[Background, str]) -> None:
    metrics, url = server
    assert scrape(url)[("bpfman_up", ())] == 1
    assert metrics.stop(signal.SIGTERM) == (0, "")
