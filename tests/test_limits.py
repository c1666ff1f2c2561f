"""The kernel's per-hook program limits, reached for real and reported in words.

A tcx hook holds 63 programs and a tracepoint 64; one more is refused with a
bare ERANGE or E2BIG. bpfman must say which limit was reached on which hook
and what to do (LimitExceededError: exit status 11 in the CLI,
RESOURCE_EXHAUSTED over gRPC, no traceback in the service's log), and leave
nothing of the refused attach behind.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from bpfman.core.manager import Bpfman
from tests.helpers.cgroup import Cgroup
from tests.helpers.consistency import Hook, kernel_programs, problems
from tests.helpers.net import VethPair
from tests.helpers.root import Arg, Root, le32
from tests.helpers.service import Service, pb, running_service

LIMIT_EXIT = 11
# A tracepoint nothing else here uses (benches attach to every syscall's): the
# limit is per tracepoint, system-wide.
TRACEPOINT = "alarmtimer/alarmtimer_cancel"


@pytest.fixture
def svc(root: Root) -> Iterator[Service]:
    with running_service(root.path) as service:
        yield service


def _fill(root: Root, count: int, load: Callable[[Bpfman], int], params: dict[str, object]) -> int:
    """Load ``count + 1`` programs and attach ``count`` of them; the id of the spare one."""
    with Bpfman(root.path) as mgr:
        ids = [load(mgr) for _ in range(count + 1)]
        for n, prog in enumerate(ids[:count]):
            mgr.attach(prog, {**params, "priority": n + 1} if "priority" in params else params)
    return ids[-1]


def _refused(
    root: Root, spare: int, cli: list[Arg], svc: Service | None = None, attach: Any = None
) -> str:
    """Attach ``spare`` by the CLI and over gRPC; both refuse alike. The CLI's line."""
    proc = root.run("attach", spare, *cli, check=False)
    assert proc.returncode == LIMIT_EXIT, proc
    assert "Traceback" not in proc.stderr
    [line] = proc.stderr.splitlines()
    if svc is None:
        return line
    with pytest.raises(grpc.RpcError) as caught:
        svc.stub.Attach(pb.AttachRequest(id=spare, attach=attach))
    assert caught.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert f"Error: {caught.value.details()}" == line
    assert "Traceback" not in svc.logs()
    return line


def test_the_64th_tcx_program_on_a_hook(
    root: Root, svc: Service, objects: Path, pair: VethPair
) -> None:
    before = set(kernel_programs({"tcx_chain"}))
    globals_ = {"prog_slot": bytes(4), "verdict": bytes.fromhex(le32(-1, signed=True))}
    owner: list[int] = []

    def load(mgr: Bpfman) -> int:
        [record] = mgr.load_file(
            objects / "tcx_chain.bpf.o",
            ["tcx:tcx_chain"],
            globals=globals_,
            map_owner_id=owner[0] if owner else None,
        )
        owner[:1] = owner or [record.id]
        return record.id

    where = {"direction": "ingress", "iface": pair.if_b, "netns": pair.netns_path_b}
    spare = _fill(root, 63, load, {**where, "priority": 1})
    line = _refused(
        root, spare,
        ["tcx", "-d", "ingress", "-i", pair.if_b, "-p", 100, "-n", pair.netns_path_b], svc,
        pb.AttachInfo(tcx_attach_info=pb.TCXAttachInfo(
            priority=100, iface=pair.if_b, direction="ingress", netns=pair.netns_path_b)),
    )  # fmt: skip
    assert line == (
        f"Error: the tcx ingress hook of {pair.if_b} already holds the kernel's limit of 63 "
        "programs (ERANGE): detach one of them before attaching another"
    )
    assert len(root.json("list", "links")) == 63
    assert problems(root.path, [Hook(pair.if_b, pair.netns_path_b)], {"tcx_chain"}, before) == []


def test_the_65th_program_on_a_tracepoint(root: Root, svc: Service, objects: Path) -> None:
    before = set(kernel_programs({"tracepoint_counter"}))

    def load(mgr: Bpfman) -> int:
        obj = objects / "tracepoint_counter.bpf.o"
        [record] = mgr.load_file(obj, ["tracepoint:tracepoint_counter"])
        return record.id

    spare = _fill(root, 64, load, {"tracepoint": TRACEPOINT})
    line = _refused(
        root, spare, ["tracepoint", "-t", TRACEPOINT], svc,
        pb.AttachInfo(tracepoint_attach_info=pb.TracepointAttachInfo(tracepoint=TRACEPOINT)),
    )  # fmt: skip
    assert line == (
        f"Error: tracepoint {TRACEPOINT} already holds the kernel's limit of 64 programs "
        "(E2BIG): detach one of them before attaching another"
    )
    assert len(root.json("list", "links")) == 64
    assert problems(root.path, [], {"tracepoint_counter"}, before) == []


def test_the_65th_program_on_a_cgroup_hook(root: Root, objects: Path) -> None:
    before = set(kernel_programs({"cgroup_chain"}))
    owner: list[int] = []

    def load(mgr: Bpfman) -> int:
        obj = objects / "cgroup_chain.bpf.o"
        [record] = mgr.load_file(obj, ["cgroup:cgroup_chain"], map_owner_id=next(iter(owner), None))
        owner[:1] = owner or [record.id]
        return record.id

    with Cgroup() as cgroup:
        spare = _fill(root, 64, load, {"cgroup_path": str(cgroup.path), "priority": 1})
        line = _refused(root, spare, ["cgroup", "--cgroup-path", cgroup.path, "-p", 100])
        assert line == (
            f"Error: the cgroup_inet_egress hook of cgroup {cgroup.path} already holds the "
            "kernel's limit of 64 programs (E2BIG): detach one of them before attaching another"
        )
        assert len(root.json("list", "links")) == 64
        assert problems(root.path, [], {"cgroup_chain"}, before) == []
