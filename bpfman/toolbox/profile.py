"""``profile``: CPU event counts of a loaded program while it runs, as
``bpftool prog profile`` gets them.

The profiler object (``objects/profiler.o``, built from
``bpf/profiler/profiler.bpf.c``) is an fentry/fexit pair loaded against the
target's main function; it reads one perf counter per metric and CPU around
each run. Kernels that refuse fentry (some sandboxes) cannot profile.
"""

from __future__ import annotations

import errno
import struct
from dataclasses import dataclass
from importlib import resources
from typing import Any

from bpfman import kernel
from bpfman.errors import KernelError, UnsupportedError
from bpfman.kernel import maps
from bpfman.kernel.image import prog_image
from bpfman.kernel.perf import perf_event_counter
from bpfman.toolbox.hold import hold
from bpfman.toolbox.source import ProgramSource

PROFILER = resources.files("bpfman.toolbox") / "objects" / "profiler.o"
MAX_METRICS = 8  # as compiled into the profiler: METRICS must not outgrow it

_HARDWARE, _SOFTWARE, _HW_CACHE = 0, 1, 3
# PERF_TYPE_HW_CACHE config: cache | (operation << 8) | (result << 16).
_READ, _ACCESS, _MISS = 0, 0, 1
_L1D, _LL, _DTLB, _ITLB = 0, 2, 3, 4


@dataclass(frozen=True)
class Metric:
    """A perf event to count, and how it relates to another one."""

    name: str
    type: int
    config: int
    ratio: tuple[str, str, float] | None = None  # (what, divisor metric, scale)


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("cycles", _HARDWARE, 0),
        Metric("instructions", _HARDWARE, 1, ("insns per cycle", "cycles", 1.0)),
        Metric("l1d_loads", _HW_CACHE, _L1D | _READ << 8 | _ACCESS << 16),
        Metric(
            "llc_misses",
            _HW_CACHE,
            _LL | _READ << 8 | _MISS << 16,
            ("LLC misses per million insns", "instructions", 1e6),
        ),
        Metric(
            "itlb_misses",
            _HW_CACHE,
            _ITLB | _READ << 8 | _MISS << 16,
            ("itlb misses per million insns", "instructions", 1e6),
        ),
        Metric(
            "dtlb_misses",
            _HW_CACHE,
            _DTLB | _READ << 8 | _MISS << 16,
            ("dtlb misses per million insns", "instructions", 1e6),
        ),
        # The software CPU clock (ns): counts where there is no hardware PMU (VMs).
        Metric("cpu_clock", _SOFTWARE, 0),
    )
}

_VALUE = struct.Struct("=QQQ")  # struct bpf_perf_event_value: counter, enabled, running


@dataclass(frozen=True)
class Reading:
    """One metric summed over CPUs; ``value`` is scaled up when the counter
    ran for only part of the time it was enabled (multiplexing)."""

    metric: Metric
    counter: int
    enabled: int
    running: int

    @property
    def value(self) -> int:
        if self.running and self.running != self.enabled:
            return self.counter * self.enabled // self.running
        return self.counter

    @property
    def running_share(self) -> float | None:
        """Percent of the enabled time the counter ran; None when always."""
        if self.running and self.running != self.enabled:
            return 100.0 * self.running / self.enabled
        return None


@dataclass(frozen=True)
class Profile:
    """What one profiling session counted."""

    run_cnt: int
    readings: list[Reading]

    def _ratio(self, reading: Reading) -> tuple[str, float] | None:
        if reading.metric.ratio is None:
            return None
        what, divisor, scale = reading.metric.ratio
        other = next((r for r in self.readings if r.metric.name == divisor), None)
        if other is None or not other.value:
            return None
        return what, reading.value * scale / other.value

    def text(self) -> str:
        lines = [f"{self.run_cnt:>18} run_cnt"]
        for reading in self.readings:
            line = f"{reading.value:>18} {reading.metric.name:<16}"
            ratio = self._ratio(reading)
            if ratio is not None:
                line += f"#  {ratio[1]:8.2f} {ratio[0]}"
            share = reading.running_share
            if share is not None:
                line += f"  ({share:.2f}%)"
            lines.append(line.rstrip())
        return "\n".join(lines)

    def json(self) -> dict[str, Any]:
        metrics = []
        for reading in self.readings:
            entry: dict[str, Any] = {
                "name": reading.metric.name,
                "value": reading.value,
                "counter": reading.counter,
                "enabled_ns": reading.enabled,
                "running_ns": reading.running,
            }
            ratio = self._ratio(reading)
            if ratio is not None:
                entry["ratio"] = {"what": ratio[0], "value": ratio[1]}
            metrics.append(entry)
        return {"run_cnt": self.run_cnt, "metrics": metrics}


def _target_function(prog_id: int, fd: int) -> str:
    """The BTF name of the program's main function, which fentry attaches to."""
    image = prog_image(fd)
    if image.type_name == "tracing":
        raise UnsupportedError(
            f"program {prog_id} is itself a tracing program: fentry cannot attach to it"
        )
    name = ""
    if image.btf_id and image.funcs:
        with ProgramSource(image.btf_id) as source:
            name = source.func_name(min(image.funcs)[1])
    if not name:
        raise UnsupportedError(
            f"program {prog_id} has no BTF function info: profile needs it to attach fentry/fexit"
        )
    return name


def _load_profiler(prog_id: int, target_fd: int, function: str, count: int) -> kernel.BpfObject:
    cpus = maps.possible_cpus()
    obj = kernel.BpfObject.open_bytes(PROFILER.read_bytes(), "profiler")
    try:
        obj.set_global("num_cpus", struct.pack("=I", cpus))
        obj.set_global("num_metrics", struct.pack("=I", count))
        obj.set_max_entries("counters", cpus * count)
        for prog in ("profile_entry", "profile_exit"):
            obj.set_attach_target(prog, function, target_fd)
        obj.load()
    except BaseException as e:
        obj.close()
        if isinstance(e, KernelError) and e.errno in (errno.EPERM, errno.EACCES):
            raise UnsupportedError(
                f"the kernel refuses fentry/fexit programs ({errno.errorcode[e.errno]}), "
                f"which profile loads around program {prog_id}"
            ) from None
        raise
    return obj


def _open_counters(obj: kernel.BpfObject, metrics: list[Metric]) -> list[kernel.Fd]:
    """One counter per metric and CPU, placed where the profiler reads it."""
    cpus = maps.possible_cpus()
    events = obj.map_fd("counters")
    opened: list[kernel.Fd] = []
    try:
        for m, metric in enumerate(metrics):
            for cpu in range(cpus):
                try:
                    event = perf_event_counter(metric.type, metric.config, cpu)
                except KernelError as e:
                    if e.errno == errno.ENODEV:
                        continue  # an offline CPU: the profiler skips its slot
                    if e.errno in (errno.ENOENT, errno.EOPNOTSUPP, errno.EINVAL):
                        raise UnsupportedError(
                            f"{metric.name}: this machine has no such counter "
                            f"(perf_event_open: {errno.errorcode[e.errno]}); virtual machines "
                            "often lack hardware counters, cpu_clock works everywhere"
                        ) from None
                    raise
                opened.append(event)
                maps.map_update(
                    events, struct.pack("=I", m * cpus + cpu), struct.pack("=I", event.fd)
                )
    except BaseException:
        for event in opened:
            event.close()
        raise
    return opened


def _collect(obj: kernel.BpfObject, metrics: list[Metric]) -> Profile:
    runs = maps.map_lookup_percpu(obj.map_fd("runs"), struct.pack("=I", 0), 8)
    readings = []
    totals = obj.map_fd("totals")
    for m, metric in enumerate(metrics):
        per_cpu = [
            _VALUE.unpack(v)
            for v in maps.map_lookup_percpu(totals, struct.pack("=I", m), _VALUE.size)
        ]
        readings.append(
            Reading(
                metric,
                sum(v[0] for v in per_cpu),
                sum(v[1] for v in per_cpu),
                sum(v[2] for v in per_cpu),
            )
        )
    return Profile(sum(struct.unpack("=Q", v)[0] for v in runs), readings)


def profile(prog_id: int, names: list[str], duration: float | None) -> Profile:
    """Count ``names`` over the runs of ``prog_id`` for ``duration`` seconds
    (or until Ctrl-C or SIGTERM); the counters detach when this returns."""
    metrics = [METRICS[name] for name in dict.fromkeys(names)]
    with kernel.prog_fd_by_id(prog_id) as target:
        function = _target_function(prog_id, target.fd)
        with _load_profiler(prog_id, target.fd, function, len(metrics)) as obj:
            events = _open_counters(obj, metrics)
            try:
                with (
                    kernel.raw_tracepoint_open(obj.program_fd("profile_entry")),
                    kernel.raw_tracepoint_open(obj.program_fd("profile_exit")),
                ):
                    hold(duration)
                return _collect(obj, metrics)
            finally:
                for event in events:
                    event.close()
