"""Perf events that tracepoint, kprobe and uprobe programs attach to."""

from __future__ import annotations

import errno
import os
import re
from typing import Any

from bpfman.errors import InvalidInputError, NotFoundError, UnsupportedError
from bpfman.kernel.errcheck import check_syscall
from bpfman.kernel.fds import Fd
from bpfman.kernel.features import KPROBES, PMU_ROOT, UPROBES, Feature
from bpfman.kernel.lib import binding
from bpfman.kernel.mounts import ensure_mounted
from bpfman.kernel.syscalls import perf_event_open

PERF_TYPE_HARDWARE = 0
PERF_TYPE_SOFTWARE = 1
PERF_TYPE_TRACEPOINT = 2
_EXCLUDE_USER = 1 << 4  # perf_event_attr flag bit: count kernel-mode work only
# perf_event_attr.flags bits
_FLAG_FREQ = 1 << 10
_MAX_SAMPLE_RATE = "/proc/sys/kernel/perf_event_max_sample_rate"
_TRACEFS_ROOTS = ("/sys/kernel/tracing", "/sys/kernel/debug/tracing")
_EVENT_NAME = re.compile(r"^[A-Za-z0-9_.\-]+$")


def perf_event_tracepoint(category: str, name: str) -> Fd:
    """Open the tracepoint ``category/name`` as a perf event."""
    for part in (category, name):
        if not _EVENT_NAME.match(part):
            raise InvalidInputError(f"invalid tracepoint name {category}/{name}")
    tp_id = _tracepoint_id(category, name)
    attr = _new_attr(PERF_TYPE_TRACEPOINT)
    attr.config = tp_id
    rc = perf_event_open(attr, pid=-1, cpu=0)
    return Fd(check_syscall(rc, f"perf_event_open tracepoint {category}/{name}"))


def perf_event_kprobe(func: str, offset: int, retprobe: bool) -> Fd:
    """Open a k(ret)probe on kernel function ``func`` + ``offset``."""
    pmu = _pmu_type("kprobe", KPROBES)
    attr = _new_attr(pmu)
    name = binding().ffi.new("char[]", func.encode())
    attr.config1 = int(binding().ffi.cast("uintptr_t", name))
    attr.config2 = offset
    if retprobe:
        attr.config |= 1 << _retprobe_bit("kprobe")
    rc = perf_event_open(attr, pid=-1, cpu=0)
    if rc < 0 and binding().ffi.errno == errno.ENOENT:
        raise NotFoundError(f"kernel function {func} not found (or not probeable)")
    kind = "kretprobe" if retprobe else "kprobe"
    return Fd(check_syscall(rc, f"perf_event_open {kind} {func}+{offset}"))


def perf_event_uprobe(path: str, offset: int, retprobe: bool, pid: int = -1) -> Fd:
    """Open a u(ret)probe at file offset ``offset`` of ``path`` (all processes if pid < 0)."""
    if not os.path.exists(path):
        raise NotFoundError(f"uprobe target {path} not found")
    pmu = _pmu_type("uprobe", UPROBES)
    attr = _new_attr(pmu)
    c_path = binding().ffi.new("char[]", os.fsencode(path))
    attr.config1 = int(binding().ffi.cast("uintptr_t", c_path))
    attr.config2 = offset
    if retprobe:
        attr.config |= 1 << _retprobe_bit("uprobe")
    # Per-process events follow the process on any CPU; global ones use CPU 0
    # as a handle (the program still runs on every CPU).
    rc = perf_event_open(attr, pid=pid if pid >= 0 else -1, cpu=-1 if pid >= 0 else 0)
    kind = "uretprobe" if retprobe else "uprobe"
    return Fd(check_syscall(rc, f"perf_event_open {kind} {path}+{offset:#x}"))


def perf_event_counter(event_type: int, config: int, cpu: int) -> Fd:
    """A counting event (``PERF_TYPE_*``, config) on one CPU, kernel mode only,
    for BPF programs to read (``bpf_perf_event_read_value``)."""
    attr = _new_attr(event_type)
    attr.config = config
    attr.flags = _EXCLUDE_USER
    rc = perf_event_open(attr, pid=-1, cpu=cpu)
    return Fd(check_syscall(rc, f"perf_event_open type {event_type} config {config:#x} cpu {cpu}"))


def perf_event_sampling(
    event_type: int,
    config: int,
    *,
    period: int | None = None,
    frequency: int | None = None,
    pid: int = -1,
    cpu: int = -1,
    name: str = "",
) -> Fd:
    """Open a sampling hardware or software event; a BPF program runs on each sample.

    Give ``period`` (every N events) or ``frequency`` (samples per second);
    ``pid`` -1 counts every task on ``cpu``, ``cpu`` -1 follows ``pid`` on any CPU.
    """
    if (period is None) == (frequency is None):
        raise InvalidInputError("give one of period and frequency")
    if pid < 0 and cpu < 0:
        raise InvalidInputError("a perf event needs a pid, a cpu, or both")
    attr = _new_attr(event_type)
    attr.config = config
    if frequency is not None:
        attr.sample_period = frequency  # the union's sample_freq
        attr.flags |= _FLAG_FREQ
    else:
        assert period is not None
        attr.sample_period = period
    rc = perf_event_open(attr, pid=pid, cpu=cpu)
    label = name or f"{event_type}:{config}"
    if rc < 0:
        err = binding().ffi.errno
        if err == errno.ESRCH:
            raise NotFoundError(f"no process with pid {pid}")
        if err == errno.ENODEV and cpu >= 0:
            raise NotFoundError(f"cpu {cpu} is not online")
        if err in (errno.ENOENT, errno.EOPNOTSUPP) and event_type == PERF_TYPE_HARDWARE:
            raise UnsupportedError(
                f"hardware event {label} is not available here (no hardware PMU counts it; "
                "virtual machines often have none): use a software event such as cpu-clock"
            )
        if err == errno.EINVAL and frequency is not None and frequency > _max_sample_rate():
            raise InvalidInputError(
                f"frequency {frequency} Hz exceeds the kernel's limit of {_max_sample_rate()} Hz "
                "(kernel.perf_event_max_sample_rate)"
            )
    where = f"pid {pid}" if pid >= 0 else f"cpu {cpu}"
    return Fd(check_syscall(rc, f"perf_event_open {label} on {where}"))


def _max_sample_rate() -> int:
    try:
        with open(_MAX_SAMPLE_RATE) as f:
            return int(f.read())
    except (OSError, ValueError):
        return 2**63


def online_cpus() -> list[int]:
    """The CPUs online now, from ``/sys/devices/system/cpu/online`` (``0-3,6``)."""
    with open("/sys/devices/system/cpu/online") as f:
        return parse_cpu_list(f.read())


def parse_cpu_list(text: str) -> list[int]:
    """``0-3,6`` as ``[0, 1, 2, 3, 6]``."""
    cpus: list[int] = []
    for part in text.strip().split(","):
        if not part:
            continue
        first, _, last = part.partition("-")
        cpus.extend(range(int(first), int(last or first) + 1))
    return cpus


def _new_attr(event_type: int) -> Any:
    attr = binding().ffi.new("struct perf_event_attr *")
    attr.type = event_type
    attr.size = binding().ffi.sizeof("struct perf_event_attr")
    return attr


def tracefs_roots() -> list[str]:
    """Mounted tracefs directories: the usual places, then any tracefs mount."""
    candidates = list(_TRACEFS_ROOTS)
    try:
        with open("/proc/self/mounts") as f:
            for line in f:
                fields = line.split()
                if len(fields) > 2 and fields[2] == "tracefs":
                    candidates.append(fields[1].replace("\\040", " "))
    except OSError:
        pass
    return [root for root in dict.fromkeys(candidates) if os.path.isdir(f"{root}/events")]


def _tracepoint_id(category: str, name: str) -> int:
    roots = tracefs_roots()
    if not roots and os.path.isdir(_TRACEFS_ROOTS[0]):
        ensure_mounted(_TRACEFS_ROOTS[0], "tracefs")  # as bpftool does
        roots = tracefs_roots()
    if not roots:
        raise UnsupportedError(
            "tracefs is not mounted; mount it with: mount -t tracefs tracefs /sys/kernel/tracing"
        )
    for root in roots:
        try:
            with open(f"{root}/events/{category}/{name}/id") as f:
                return int(f.read())
        except FileNotFoundError:
            continue
        except (OSError, ValueError) as e:
            raise UnsupportedError(f"cannot read tracepoint {category}/{name}: {e}") from e
    raise NotFoundError(f"tracepoint {category}/{name} not found")


def _pmu_type(pmu: str, feature: Feature) -> int:
    """The perf type number of ``pmu``, which the kernel registers with ``feature``."""
    feature.require()
    with open(f"{PMU_ROOT}/{pmu}/type") as f:
        return int(f.read())


def _retprobe_bit(pmu: str) -> int:
    """The config bit that makes a probe a return probe ("config:N")."""
    with open(f"{PMU_ROOT}/{pmu}/format/retprobe") as f:
        text = f.read().strip()
    _, _, bit = text.partition(":")
    return int(bit)
