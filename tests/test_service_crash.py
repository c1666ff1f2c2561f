"""kill -9 of the service in the middle of requests: after a restart the state
agrees with the kernel and bpffs again.

The crash point is exact: strace kills the service at its N-th bpf() call while
a client loads, attaches, detaches and unloads in a loop. The restarted service
finishes the dead one's journaled work before it serves anything: the first
List already sees kernel, bpffs and state agreeing.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import grpc
import pytest

from tests.helpers.bpftool import prog_ids
from tests.helpers.consistency import kernel_programs, problems
from tests.helpers.root import Root
from tests.helpers.service import Service, file_load, pb, running_service
from tests.helpers.wait import eventually

TRACEPOINTS = ["syscalls/sys_enter_getppid", "syscalls/sys_enter_getpid"]


def churn(svc: Service, obj: Path, seen: set[int]) -> None:
    """Mutate until the service dies under us."""
    try:
        for i in range(1000):
            [loaded] = svc.stub.Load(file_load(obj, (pb.TRACEPOINT, "tracepoint_counter"))).programs
            prog_id = loaded.kernel_info.id
            seen.add(prog_id)
            tp = pb.TracepointAttachInfo(tracepoint=TRACEPOINTS[i % 2])
            attach = pb.AttachInfo(tracepoint_attach_info=tp)
            link = svc.stub.Attach(pb.AttachRequest(id=prog_id, attach=attach)).link_id
            if i % 3 == 0:
                svc.stub.Detach(pb.DetachRequest(link_id=link))
            if i % 2 == 0:
                svc.stub.Unload(pb.UnloadRequest(id=prog_id))
    except grpc.RpcError as exc:
        assert exc.code() == grpc.StatusCode.UNAVAILABLE, exc
        return
    raise AssertionError("the service was never killed")


def agrees(root: Root, seen: set[int]) -> None:
    records: Any = root.json("list", "programs")
    recorded = {row["id"] for row in records}
    fs = root.path / "fs"
    pinned = {int(p.name.removeprefix("prog_")) for p in fs.glob("prog_*")}
    assert pinned == recorded
    alive = prog_ids()
    assert recorded <= alive
    # every program the dead service loaded is recorded, or gone from the kernel
    assert eventually(lambda: not (seen - recorded) & prog_ids())
    links: Any = root.json("list", "links")
    link_pins = {p.name for p in (fs / "links").glob("*")} if (fs / "links").exists() else set()
    assert link_pins == {str(link["id"]) for link in links}
    maps = {p.name for p in (fs / "maps").iterdir()} if (fs / "maps").exists() else set()
    assert maps == {str(row["id"]) for row in records}


@pytest.mark.parametrize("nth", [40, 97, 211])
def test_kill_9_mid_request_then_restart_agrees_with_the_kernel(
    root: Root, objects: Path, nth: int
) -> None:
    obj = objects / "tracepoint_counter.bpf.o"
    killer = ["strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=bpf",
              "-e", f"inject=bpf:signal=KILL:when={nth}"]  # fmt: skip
    seen: set[int] = set()
    before = set(kernel_programs({"tracepoint_counter"}))
    with running_service(root.path, prefix=killer) as svc:
        churn(svc, obj, seen)
        assert svc.proc.wait(timeout=30) != 0
        logs = svc.logs()
        pid = int(re.findall(r"starting \(pid (\d+)", logs)[0])
        last = [line for line in logs.splitlines() if "from uid=" in line][-1]
        assert "done in" not in last, "killed in the middle of a request"
        assert eventually(lambda: not os.path.exists(f"/proc/{pid}"), timeout=10)
    with running_service(root.path) as svc:
        svc.stub.List(pb.ListRequest(bpfman_programs_only=True))
        assert problems(root.path, [], {"tracepoint_counter"}, before) == []
        agrees(root, seen)
        for row in svc.stub.List(pb.ListRequest(bpfman_programs_only=True)).results:
            svc.stub.Unload(pb.UnloadRequest(id=row.kernel_info.id))
        assert svc.stub.List(pb.ListRequest(bpfman_programs_only=True)).results == []
