"""Kernel type numbers (bpfman/kernel/types.py, attach_types.py), their bpfman names, and owned fds."""

from __future__ import annotations

import enum
import os

import pytest

from bpfman.errors import InvalidInputError
from bpfman.kernel.attach_types import ATTACH_TYPE, LINK_TYPE
from bpfman.kernel.btf import Btf
from bpfman.kernel.fds import Fd
from bpfman.kernel.names import (
    KERNEL_PROG_TYPES,
    PROG_TYPE_FILTERS,
    map_type_name,
    prog_type_name,
    prog_types_named,
)
from bpfman.kernel.types import PROG_TYPE

VMLINUX_BTF = "/sys/kernel/btf/vmlinux"


@pytest.mark.parametrize(
    ("enum_class", "c_enum", "prefix"),
    [
        (PROG_TYPE, "bpf_prog_type", "BPF_PROG_TYPE_"),
        (ATTACH_TYPE, "bpf_attach_type", "BPF_"),
        (LINK_TYPE, "bpf_link_type", "BPF_LINK_TYPE_"),
    ],
)
def test_the_enums_are_the_running_kernels(
    enum_class: type[enum.IntEnum], c_enum: str, prefix: str
) -> None:
    """Every value the running kernel's BTF has, with its number (a kernel newer than
    the enums fails here: add what it brought)."""
    if not os.path.exists(VMLINUX_BTF):
        pytest.skip(f"no {VMLINUX_BTF}: this kernel has no BTF to compare with")
    with Btf.vmlinux() as btf:
        kernel = {
            name.removeprefix(prefix): value
            for name, value in btf.enum_values(c_enum).items()
            if not name.startswith("__")
        }
    assert kernel, f"no enum {c_enum} in the kernel's BTF"
    ours = {member.name: member.value for member in enum_class}
    assert {name: ours.get(name) for name in kernel} == kernel
    # Ours may know types newer than the running kernel; never a number it gives another.
    assert not {v for n, v in ours.items() if n not in kernel} & set(kernel.values())


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
