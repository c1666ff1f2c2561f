"""Prometheus metrics of bpfman and the kernel's BPF programs.

A custom collector reads the state and the kernel afresh on every scrape,
so nothing is cached between scrapes and nothing runs between them. Managed
programs come from bpfman's public API (``list_programs``); their kernel
facts, and the programs bpfman does not manage, from the kernel directly.
"""

from __future__ import annotations

import gc
import os
import platform
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector, CollectorRegistry

from bpfman import __version__, kernel
from bpfman.errors import BpfmanError, NotFoundError
from bpfman.kernel.info import fdinfo_memlock
from bpfman.kernel.stats import stats_sysctl
from bpfman.logs import get_logger

if TYPE_CHECKING:
    from wsgiref.simple_server import WSGIServer

    from bpfman.core.manager import Bpfman

log = get_logger(__name__)
LABELS = ["id", "name", "type", "application"]


class BpfmanCollector(Collector):
    """Everything bpfman exports, gathered per scrape."""

    def __init__(self, manager: Bpfman) -> None:
        self.manager = manager

    def describe(self) -> list[Metric]:
        """Nothing up front: registering must not scrape the kernel."""
        return []

    def collect(self) -> Iterator[Metric]:
        yield _build_info()
        up = GaugeMetricFamily(
            "bpfman_up", "1 if the last scrape read bpfman's state and the kernel"
        )
        try:
            families = list(self._families())
        except BpfmanError as e:
            log.warning("scrape failed: %s", e)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _families(self) -> Iterator[Metric]:
        managed = {row.id: row for row in self.manager.list_programs()}
        runs = CounterMetricFamily(
            "bpfman_program_runs",
            "Runs of the program (counted while BPF statistics are on)",
            labels=LABELS,
        )
        run_time = CounterMetricFamily(
            "bpfman_program_run_time_seconds",
            "Time the program ran (counted while BPF statistics are on)",
            labels=LABELS,
        )
        xlated = GaugeMetricFamily(
            "bpfman_program_xlated_bytes", "Size of the translated program", labels=LABELS
        )
        jited = GaugeMetricFamily(
            "bpfman_program_jited_bytes", "Size of the JITed program", labels=LABELS
        )
        memlock = GaugeMetricFamily(
            "bpfman_program_memlock_bytes", "Kernel memory charged for the program", labels=LABELS
        )
        links = GaugeMetricFamily(
            "bpfman_program_links", "Links bpfman attached for the program", labels=LABELS
        )
        programs_by_type: Counter[str] = Counter()
        links_by_type: Counter[str] = Counter()
        unmanaged: Counter[str] = Counter()
        map_ids: set[int] = set()
        for info in kernel.prog_infos():
            row = managed.pop(info.id, None)
            if row is None:
                unmanaged[info.type_name] += 1
                continue
            labels = [str(row.id), row.name, row.type, row.application]
            runs.add_metric(labels, info.run_cnt)
            run_time.add_metric(labels, info.run_time_ns / 1e9)
            xlated.add_metric(labels, info.xlated_len)
            jited.add_metric(labels, info.jited_len)
            memlock.add_metric(labels, info.memlock)
            links.add_metric(labels, len(row.link_ids))
            programs_by_type[row.type] += 1
            links_by_type[row.type] += len(row.link_ids)
            map_ids.update(info.map_ids)
        yield from (runs, run_time, xlated, jited, memlock, links)
        yield _by_type(
            "bpfman_programs", "Programs bpfman manages, by bpfman type", programs_by_type
        )
        yield _by_type("bpfman_links", "Links bpfman manages, by bpfman type", links_by_type)
        yield _by_type(
            "bpfman_unmanaged_programs",
            "Programs in the kernel that bpfman does not manage, by kernel type",
            unmanaged,
            "kernel_type",
        )
        yield from _maps(map_ids)
        store = GaugeMetricFamily("bpfman_store_size_bytes", "Size of bpfman's state store")
        store.add_metric([], _dir_size(self.manager.layout.db))
        yield store
        stats = GaugeMetricFamily(
            "bpfman_bpf_stats_enabled",
            "kernel.bpf_stats_enabled (processes holding BPF_ENABLE_STATS do not show)",
        )
        stats.add_metric([], 1 if stats_sysctl() else 0)
        yield stats


def _by_type(
    name: str, documentation: str, counts: Counter[str], label: str = "type"
) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation, labels=[label])
    for type_name, count in sorted(counts.items()):
        family.add_metric([type_name], count)
    return family


def _maps(map_ids: set[int]) -> Iterator[Metric]:
    """Count and kernel memory of the maps bpfman's programs use."""
    total = 0
    found = 0
    for map_id in map_ids:
        try:
            with kernel.map_fd_by_id(map_id) as fd:
                total += fdinfo_memlock(fd.fd)
                found += 1
        except NotFoundError:
            continue
    count = GaugeMetricFamily("bpfman_maps", "Maps used by programs bpfman manages")
    count.add_metric([], found)
    memory = GaugeMetricFamily("bpfman_maps_memlock_bytes", "Kernel memory charged for those maps")
    memory.add_metric([], total)
    yield count
    yield memory


def _build_info() -> InfoMetricFamily:
    info = InfoMetricFamily("bpfman_build", "bpfman's version and runtime")
    info.add_metric(
        [],
        {"version": __version__, "python": platform.python_version(), "kernel": os.uname().release},
    )
    return info


def _dir_size(path: Path) -> int:
    try:
        return sum(entry.stat().st_size for entry in path.iterdir() if entry.is_file())
    except OSError:
        return 0


def registry(manager: Bpfman) -> CollectorRegistry:
    """A registry holding only bpfman's collector (no process metrics)."""
    reg = CollectorRegistry(auto_describe=False)
    reg.register(BpfmanCollector(manager))
    return reg


def serve(manager: Bpfman, host: str, port: int) -> WSGIServer:
    """Serve ``/metrics`` in a background thread; the caller shuts it down."""
    from prometheus_client import start_http_server

    manager.list_programs()  # fail now, on one line, if the state or privileges are wrong
    # What is alive now lives as long as the server: keep the garbage collector's
    # full passes (which a scrape's many small objects trigger) off it.
    gc.freeze()
    try:
        server, _ = start_http_server(port, addr=host, registry=registry(manager))
    except OSError as e:
        raise BpfmanError(f"cannot listen on {host}:{port}: {e.strerror}") from None
    return server
