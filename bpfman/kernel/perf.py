"""Perf events that tracepoint, kprobe and uprobe programs attach to."""

from __future__ import annotations

import errno
import os
import re
from typing import Any

from bpfman.core.errors import InvalidInputError, NotFoundError, UnsupportedError
from bpfman.core.mounts import ensure_mounted
from bpfman.kernel.errcheck import check_syscall
from bpfman.kernel.fds import Fd
from bpfman.kernel.lib import binding
from bpfman.kernel.syscalls import perf_event_open

PERF_TYPE_TRACEPOINT = 2
_EXCLUDE_USER = 1 << 4  # perf_event_attr flag bit: count kernel-mode work only
_TRACEFS_ROOTS = ("/sys/kernel/tracing", "/sys/kernel/debug/tracing")
_PMU_ROOT = "/sys/bus/event_source/devices"
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
    pmu = _pmu_type("kprobe", "kprobes are not supported by this kernel (CONFIG_KPROBES)")
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
    pmu = _pmu_type("uprobe", "uprobes are not supported by this kernel (CONFIG_UPROBES)")
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


def _pmu_type(pmu: str, missing: str) -> int:
    try:
        with open(f"{_PMU_ROOT}/{pmu}/type") as f:
            return int(f.read())
    except FileNotFoundError:
        raise UnsupportedError(missing) from None


def _retprobe_bit(pmu: str) -> int:
    """The config bit that makes a probe a return probe ("config:N")."""
    with open(f"{_PMU_ROOT}/{pmu}/format/retprobe") as f:
        text = f.read().strip()
    _, _, bit = text.partition(":")
    return int(bit)
