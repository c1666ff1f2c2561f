"""Kernel type numbers and their bpfman names (bpfman/kernel/types.py), and owned fds."""

from __future__ import annotations

import os

import pytest

from bpfman.errors import InvalidInputError
from bpfman.kernel.fds import Fd
from bpfman.kernel.names import (
    KERNEL_PROG_TYPES,
    PROG_TYPE_FILTERS,
    map_type_name,
    prog_type_name,
    prog_types_named,
)
from bpfman.kernel.types import PROG_TYPE


@pytest.mark.parametrize(
    ("name", "types"),
    [
        ("tracepoint", {PROG_TYPE.TRACEPOINT}),
        ("TracePoint", {PROG_TYPE.TRACEPOINT}),
        ("tc", {PROG_TYPE.SCHED_CLS}),
        ("probe", {PROG_TYPE.KPROBE}),  # kprobe-typed programs, uprobes included
        ("raw-tracepoint", {PROG_TYPE.RAW_TRACEPOINT}),
        ("raw_tracepoint", {PROG_TYPE.RAW_TRACEPOINT}),
        ("rawtracepoint", {PROG_TYPE.RAW_TRACEPOINT}),
        ("lwt-seg6-local", {19}),  # the reference CLI's spelling
        ("lwt-seg6local", {19}),  # the kernel's
        ("cgroup-sock-addr", {18}),
        ("ext", {PROG_TYPE.EXT}),
    ],
)
def test_prog_types_named(name: str, types: set[int]) -> None:
    assert prog_types_named(name) == types


@pytest.mark.parametrize("name", ["", "bogus", "kprobe", "sched_cls", "xdp2"])
def test_unknown_prog_type_names(name: str) -> None:
    with pytest.raises(InvalidInputError, match="possible values: unspec, socket-filter"):
        prog_types_named(name)


def test_every_filter_name_selects_its_type() -> None:
    for number, name in PROG_TYPE_FILTERS.items():
        assert prog_types_named(name) == {number}, name
    assert set(PROG_TYPE_FILTERS) == set(KERNEL_PROG_TYPES)
    assert all("_" not in name for name in PROG_TYPE_FILTERS.values())


def test_names_with_a_numeric_fallback() -> None:
    assert prog_type_name(PROG_TYPE.SCHED_CLS) == "tc"
    assert prog_type_name(PROG_TYPE.KPROBE) == "probe"
    assert prog_type_name(999) == "999"
    assert map_type_name(6) == "per_cpu_array"
    assert map_type_name(1) == "hash"
    assert map_type_name(999) == "999"


def test_fd_close_is_idempotent() -> None:
    r, w = os.pipe()
    os.close(w)
    fd = Fd(r)
    assert int(fd) == r
    fd.close()
    fd.close()
    assert fd.closed
    with pytest.raises(ValueError, match="closed"):
        int(fd)
