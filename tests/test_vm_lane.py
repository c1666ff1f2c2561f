"""Host side of the VM lane: boot the guest once and require every `vm` test to pass.

`vm` tests need kprobes, fentry, fexit or freplace, which the host kernel refuses; they
run inside the guest (see tests/vm/runner.py) and this test carries their verdict.
"""

from __future__ import annotations

import os

import pytest

from tests.vm.runner import DEFAULT_TIMEOUT, VmResult, run_vm_lane

# Inside the guest this file must never boot another guest.
pytestmark = pytest.mark.skipif(
    bool(os.environ.get("BPFMAN_IN_VM")), reason="already inside the VM lane guest"
)


@pytest.fixture(scope="session")
def vm_lane() -> VmResult:
    timeout = float(os.environ.get("BPFMAN_VM_TIMEOUT", DEFAULT_TIMEOUT))
    return run_vm_lane([], timeout=timeout)


def test_vm_tests_pass_in_guest(vm_lane: VmResult) -> None:
    j = vm_lane.junit
    detail = f"rc={vm_lane.rc} timed_out={vm_lane.timed_out} junit={j}\n{vm_lane.output}"
    assert vm_lane.rc is not None, f"the guest wrote no exit status: {detail}"
    assert vm_lane.rc == 0, detail
    assert j is not None, f"the guest wrote no junit xml: {detail}"
    assert j.tests > 0, detail
    assert (j.failures, j.errors, j.skipped) == (0, 0, 0), detail
