"""Host side of the VM lane: boot each kernel of the matrix once (side by side) and require
every `vm` test to pass there, or to be too new for that kernel and pass on a newer one.

`vm` tests need kprobes, fentry, fexit or freplace, which the host kernel refuses; they
run inside the guests (see tests/vm/runner.py) and these tests carry their verdict.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.vm.runner import (
    KERNELS,
    VmResult,
    lane_timeout,
    lsm_append,
    matrix_in_background,
    summary,
    uncovered,
)

# Inside a guest this file must never boot another guest.
pytestmark = pytest.mark.skipif(
    bool(os.environ.get("BPFMAN_IN_VM")), reason="already inside the VM lane guest"
)


@pytest.fixture(scope="session")
def vm_lanes() -> dict[str, VmResult]:
    """Every kernel of the matrix, booted once per session side by side, each running
    the whole vm suite; conftest starts them in the background right after collection."""
    results = matrix_in_background(lane_timeout(), ["tests/"]).result()
    for result in results:
        print(f"\n{summary(result)}")
    return {result.kernel.name: result for result in results}


@pytest.mark.parametrize("name", list(KERNELS))
def test_vm_tests_pass_in_guest(vm_lanes: dict[str, VmResult], name: str) -> None:
    result = vm_lanes[name]
    j = result.junit
    detail = f"{summary(result)} timed_out={result.timed_out}\n{result.output}"
    assert result.rc is not None, f"the guest wrote no exit status: {detail}"
    assert result.rc == 0, detail
    assert result.release == result.kernel.release, detail
    assert j is not None, f"the guest wrote no junit xml: {detail}"
    assert j.tests > 0, detail
    assert (j.failures, j.errors, j.skipped) == (0, 0, 0), detail


def test_every_vm_test_runs_on_some_kernel(vm_lanes: dict[str, VmResult]) -> None:
    """A test deselected as too new for one kernel passed on another one."""
    results = [vm_lanes[name] for name in KERNELS]
    assert uncovered(results) == []
    newest = results[-1]
    assert newest.deselected == frozenset(), "the newest kernel must be new enough for all"


def _config(tmp_path: Path, lsm: str, bpf_lsm: bool = True) -> Path:
    path = tmp_path / "config-6.99.0-amd64"
    bpf_line = "CONFIG_BPF_LSM=y" if bpf_lsm else "# CONFIG_BPF_LSM is not set"
    path.write_text(f'CONFIG_BPF=y\n{bpf_line}\nCONFIG_LSM="{lsm}"\n')
    return path


def test_bpf_lsm_is_added_to_the_boot_line_only_when_missing(tmp_path: Path) -> None:
    assert lsm_append(_config(tmp_path, "landlock,lockdown,yama,bpf")) == ()
    assert lsm_append(_config(tmp_path, "landlock,lockdown,yama")) == (
        "lsm=landlock,lockdown,yama,bpf",
    )
    assert lsm_append(_config(tmp_path, "landlock,yama", bpf_lsm=False)) == ()
