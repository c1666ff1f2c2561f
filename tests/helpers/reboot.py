"""Tests that span a reboot of the VM lane's guest.

A guest cannot reboot itself and carry on with the same test, so such a test runs
twice: in the first boot it does its part, keeps what must survive in
:attr:`Reboot.directory` and calls :meth:`Reboot.request`; the runner then powers
that guest off, boots a fresh one of the same kernel and runs the test again, where
:attr:`Reboot.boot` is 2 (tests/vm/runner.py).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

# Set by tests/vm/runner.py for each guest.
BOOT = int(os.environ.get("BPFMAN_VM_BOOT", "1"))
SHARED = os.environ.get("BPFMAN_VM_SHARED")
SECOND_BOOT = "second-boot"


@dataclass(frozen=True)
class Reboot:
    """Which boot this is, and a directory that the reboot keeps."""

    nodeid: str
    boot: int
    directory: Path

    def request(self) -> None:
        """Have the runner boot a fresh guest and run this test there (as boot 2)."""
        assert self.boot == 1, "only the first boot asks for a second one"
        with open(self.directory.parent / SECOND_BOOT, "a") as f:
            f.write(f"{self.nodeid}\n")


def reboot_for(request: pytest.FixtureRequest) -> Reboot:
    """The :class:`Reboot` of the running test (for a fixture)."""
    if not SHARED:
        pytest.fail("spans a reboot: run it through the VM lane (python -m tests.vm.runner)")
    directory = Path(SHARED) / re.sub(r"[^\w.-]", "_", request.node.nodeid)
    directory.mkdir(exist_ok=True)
    return Reboot(request.node.nodeid, BOOT, directory)
