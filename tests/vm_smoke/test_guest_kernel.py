"""Guest-only checks that the VM lane gives what the host kernel lacks.

They use only the kernel, bpftool and clang, so a failure here points at the lane (guest
kernel, mounts, toolchain), not at bpfman.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.vm

TRACING = Path("/sys/kernel/tracing")
FENTRY_SOURCE = """\
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("fentry/do_unlinkat")
int smoke_fentry(void *ctx)
{
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
"""


@pytest.fixture
def bpffs(tmp_path: Path) -> Iterator[Path]:
    """A private bpffs, unmounted even when the test fails."""
    root = tmp_path / "bpffs"
    root.mkdir()
    subprocess.run(["mount", "-t", "bpf", "bpf", str(root)], check=True)
    try:
        yield root
    finally:
        subprocess.run(["umount", str(root)], check=True)


def _append(path: Path, line: str) -> None:
    """Add one definition; tracefs refuses the seek that Python's "a" mode does."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        os.write(fd, f"{line}\n".encode())
    finally:
        os.close(fd)


def test_guest_runs_the_lanes_kernel() -> None:
    """The kernel the host meant to boot (tests/vm/runner.py passes its release)."""
    assert os.uname().release == os.environ["BPFMAN_VM_RELEASE"]


def test_bpf_lsm_is_active() -> None:
    """BPF LSM is in the running list (the runner adds ``lsm=...,bpf`` where needed)."""
    active = Path("/sys/kernel/security/lsm").read_text().split(",")
    assert "bpf" in active, active


@pytest.mark.min_kernel("6.7")
def test_netkit_and_tcx_are_there() -> None:
    """The newer kernel of the matrix has what 6.1 lacks: TCX (6.6) and netkit (6.7).

    Both show up as BTF types of the running kernel; bpftool 7.1 predates their names.
    """
    btf = subprocess.run(
        ["bpftool", "btf", "dump", "file", "/sys/kernel/btf/vmlinux", "format", "c"],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    assert "BPF_TCX_INGRESS" in btf and "BPF_NETKIT_PRIMARY" in btf


def test_kprobe_event_can_be_created_and_removed() -> None:
    name = f"bpfman_smoke_{os.getpid()}"
    events = TRACING / "kprobe_events"
    _append(events, f"p:{name} do_unlinkat")
    try:
        assert (TRACING / "events" / "kprobes" / name).is_dir()
    finally:
        _append(events, f"-:{name}")
    assert name not in events.read_text()


def test_fentry_program_loads(tmp_path: Path, bpffs: Path) -> None:
    source = tmp_path / "smoke.bpf.c"
    obj = tmp_path / "smoke.bpf.o"
    source.write_text(FENTRY_SOURCE)
    subprocess.run(
        ["clang", "-O2", "-g", "-target", "bpf", "-I/usr/include/x86_64-linux-gnu",
         "-c", str(source), "-o", str(obj)],
        check=True,
    )  # fmt: skip
    pin = bpffs / "smoke"
    subprocess.run(["bpftool", "prog", "load", str(obj), str(pin)], check=True)
    try:
        shown = subprocess.run(
            ["bpftool", "prog", "show", "pinned", str(pin)],
            check=True, capture_output=True, text=True,
        ).stdout  # fmt: skip
        assert "tracing" in shown and "smoke_fentry" in shown, shown
    finally:
        pin.unlink()
