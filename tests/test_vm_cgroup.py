"""cgroup links on kernels without cgroup mprog (< 6.16), in the VM lane.

There the kernel only appends to a cgroup hook, so bpfman attaches a link only
if it runs last by priority and refuses one that would have to run earlier,
keeping every recorded position true. The host (6.18) tests relative placement.
"""

from __future__ import annotations

import json
import platform
from collections.abc import Iterator
from pathlib import Path

import pytest

from bpfman.core.manager import Bpfman
from bpfman.errors import UnsupportedError
from bpfman.plugins.cgroup.cgroupfs import cgroup2_mounts
from tests.helpers import run
from tests.helpers.cgroup import Cgroup
from tests.helpers.root import Root

pytestmark = pytest.mark.vm


def kernel_version() -> tuple[int, int]:
    major, minor = platform.release().split("-")[0].split(".")[:2]
    return int(major), int(minor)


@pytest.fixture
def cgroup() -> Iterator[Cgroup]:
    if not cgroup2_mounts():  # the guest's own kernel: mount its cgroup v2 if it has none
        run(["mount", "-t", "cgroup2", "cgroup2", "/sys/fs/cgroup"])
    with Cgroup() as cg:
        yield cg


def kernel_order(cgroup: Cgroup) -> list[int]:
    out = run(["bpftool", "-j", "cgroup", "show", str(cgroup.path)]).strip()
    return [int(p["id"]) for p in (json.loads(out) if out else [])]


def test_append_only_rule_before_6_16(root: Root, objects: Path, cgroup: Cgroup) -> None:
    if kernel_version() >= (6, 16):
        pytest.fail(f"{platform.release()} places cgroup links itself: the host tests that")
    with Bpfman(root.path) as mgr:
        progs = [
            p.id for p in mgr.load_file(objects / "cgroup_chain.bpf.o", ["cgroup:cgroup_chain"])
        ]
        progs += [
            mgr.load_file(
                objects / "cgroup_chain.bpf.o", ["cgroup:cgroup_chain"], map_owner_id=progs[0]
            )[0].id
            for _ in range(2)
        ]
        where = {"cgroup_path": str(cgroup.path)}
        mgr.attach(progs[0], {**where, "priority": 10})
        mgr.attach(progs[1], {**where, "priority": 20})  # runs last: appended
        with pytest.raises(UnsupportedError, match="cannot place one before another"):
            mgr.attach(progs[2], {**where, "priority": 15})
        assert kernel_order(cgroup) == progs[:2]
        assert [d.position for d in mgr.list_links()] == [0, 1]
    # The CLI says it in one line; a later priority is still fine.
    message = root.fail("attach", progs[2], "cgroup", "-c", cgroup.path, "-p", "5")
    assert "requires >= 6.16" in message
    root.run("attach", progs[2], "cgroup", "-c", cgroup.path)
    assert kernel_order(cgroup) == progs
