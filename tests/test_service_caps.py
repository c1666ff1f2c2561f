"""The capability list of bpfman.service is enough, and no capability in it is idle.

The service runs as root with its bounding set cut down to exactly the unit's
CapabilityBoundingSet (setpriv), as systemd would run it, and a client loads,
attaches, detaches and unloads every type the host kernel allows through gRPC,
a uprobe inside a container included. Then each capability is dropped in turn
and something must fail, so the list is not larger than what bpfman uses.
"""

from __future__ import annotations

import ctypes
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from bpfman.dispatcher.loader import freplace_support
from tests.helpers.bpftool import map_values, net_show, prog_ids
from tests.helpers.container import CTR_LIB, Container, mountns_alive
from tests.helpers.net import VethPair
from tests.helpers.root import REPO, Root
from tests.helpers.service import Service, file_load, pb, running_service
from tests.helpers.wait import eventually

UNIT = REPO / "systemd" / "bpfman.service.in"


def unit_capabilities() -> list[str]:
    text = UNIT.read_text()
    bounding = re.search(r"^CapabilityBoundingSet=(.*)$", text, re.M)
    ambient = re.search(r"^AmbientCapabilities=(.*)$", text, re.M)
    assert bounding and ambient
    assert bounding.group(1).split() == ambient.group(1).split()
    return bounding.group(1).split()


def setpriv(caps: list[str]) -> list[str]:
    names = ",".join("+" + c.removeprefix("CAP_").lower() for c in caps)
    return ["setpriv", f"--bounding-set=-all,{names}", "--"]


def effective_caps(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1], 16) for line in f if line.startswith("CapEff:"))


def service_pid(svc: Service) -> int:
    return int(re.findall(r"starting \(pid (\d+)", svc.logs())[0])


@pytest.fixture
def pair() -> Iterator[VethPair]:
    with VethPair() as veth:
        yield veth


@pytest.fixture
def container(root: Root) -> Iterator[Container]:
    c = Container(hide=(str(root.path),))
    try:
        yield c
    finally:
        c.close()
        assert eventually(lambda: not mountns_alive(c.mountns)), "container namespace survived"


def env() -> dict[str, str]:
    return {"BPFMAN_FREPLACE": "0"} if freplace_support().supported else {}


def exercise(svc: Service, objects: Path, pair: VethPair, container: Container) -> None:
    """Every kind of change the host allows, through gRPC; results checked from outside."""
    s = svc.stub
    # tracepoint
    [tp] = s.Load(file_load(objects / "tracepoint_counter.bpf.o", (pb.TRACEPOINT, "tracepoint_counter"),
                            globals_={"target_pid": os.getpid().to_bytes(4, "little")})).programs  # fmt: skip
    tp_info = pb.TracepointAttachInfo(tracepoint="syscalls/sys_enter_getppid")
    link = s.Attach(pb.AttachRequest(id=tp.kernel_info.id, attach=pb.AttachInfo(tracepoint_attach_info=tp_info))).link_id  # fmt: skip
    for _ in range(5):
        os.getppid()
    assert map_values(f"{tp.info.map_pin_path}/counts")[0] == 5
    s.Detach(pb.DetachRequest(link_id=link))
    # uprobe on the host's libc, and inside the container's mount namespace
    [up] = s.Load(
        file_load(objects / "uprobe_counter.bpf.o", (pb.UPROBE, "uprobe_counter"))
    ).programs
    host = pb.UprobeAttachInfo(target="libc", fn_name="getpid", pid=os.getpid())
    s.Attach(pb.AttachRequest(id=up.kernel_info.id, attach=pb.AttachInfo(uprobe_attach_info=host)))
    libc = ctypes.CDLL("libc.so.6")
    for _ in range(5):
        libc.getpid()
    inside = pb.UprobeAttachInfo(target=CTR_LIB, fn_name="getpid", container_pid=container.pid)
    s.Attach(
        pb.AttachRequest(id=up.kernel_info.id, attach=pb.AttachInfo(uprobe_attach_info=inside))
    )
    container.call_getpid(5)
    assert map_values(f"{up.info.map_pin_path}/counts")[0] >= 10
    # tcx, xdp and tc on a veth in a network namespace
    where: dict[str, Any] = {"iface": pair.if_b, "priority": 10, "netns": pair.netns_path_b}
    hooks = [
        ("tcx", pb.TCX, pb.AttachInfo(tcx_attach_info=pb.TCXAttachInfo(direction="ingress", **where))),
        ("xdp", pb.XDP, pb.AttachInfo(xdp_attach_info=pb.XDPAttachInfo(**where))),
        ("tc", pb.TC, pb.AttachInfo(tc_attach_info=pb.TCAttachInfo(direction="ingress", **where))),
    ]  # fmt: skip
    for kind, ptype, attach in hooks:
        [prog] = s.Load(
            file_load(objects / f"{kind}_chain.bpf.o", (ptype, f"{kind}_chain"))
        ).programs
        s.Attach(pb.AttachRequest(id=prog.kernel_info.id, attach=attach))
    shown = net_show(pair.if_b, pair.netns_path_b)
    assert shown["tcx"] and shown["xdp"] and shown["tc"]
    # unload everything (detaching what is still attached)
    ids = [r.kernel_info.id for r in s.List(pb.ListRequest(bpfman_programs_only=True)).results]
    assert len(ids) == 5
    for prog_id in ids:
        s.Unload(pb.UnloadRequest(id=prog_id))
    shown = net_show(pair.if_b, pair.netns_path_b)
    assert not shown["tcx"] and not shown["xdp"] and not shown["tc"]
    assert eventually(lambda: not set(ids) & prog_ids())


def sandboxed(caps: list[str]) -> list[str]:
    """As the unit runs it: a mount namespace of its own (slave of the host's, as
    ProtectSystem= and friends make one), no new privileges, exactly ``caps``."""
    bounding = setpriv(caps)
    return ["unshare", "--mount", "--propagation", "slave", "--", *bounding[:1],
            "--no-new-privs", *bounding[1:]]  # fmt: skip


def test_the_unit_capabilities_are_enough(
    root: Root, objects: Path, pair: VethPair, container: Container
) -> None:
    """The unit's ExecStartPre mounts the root's bpffs in the host's namespace, so what
    the sandboxed service pins is what the host (bpftool, the CLI) sees."""
    caps = unit_capabilities()
    root.run("system", "recover")  # ExecStartPre=+
    with running_service(root.path, prefix=sandboxed(caps), env=env()) as svc:
        expected = sum(1 << NUMBERS[c] for c in caps)
        assert effective_caps(service_pid(svc)) == expected
        exercise(svc, objects, pair, container)
        assert svc.terminate() == 0, svc.logs()


NUMBERS = {
    "CAP_NET_ADMIN": 12,
    "CAP_SYS_CHROOT": 18,
    "CAP_SYS_PTRACE": 19,
    "CAP_SYS_ADMIN": 21,
}


# What breaks without each one (measured on the host kernel).
BREAKS = {
    "CAP_NET_ADMIN": "add clsact qdisc: Operation not permitted",
    "CAP_SYS_CHROOT": "cannot enter mount namespace",
    "CAP_SYS_PTRACE": "Permission denied",
}


@pytest.mark.parametrize("dropped", sorted(NUMBERS))
def test_each_unit_capability_is_needed(
    root: Root, objects: Path, pair: VethPair, container: Container, dropped: str
) -> None:
    caps = [c for c in unit_capabilities() if c != dropped]
    with running_service(root.path, prefix=setpriv(caps), env=env(), ready=False) as svc:
        if dropped == "CAP_SYS_ADMIN":
            assert svc.proc.wait(timeout=30) != 0
            assert "Error: missing capability" in svc.logs() and "CAP_SYS_ADMIN" in svc.logs()
            return
        svc.wait_ready()
        with pytest.raises(grpc.RpcError) as refused:
            exercise(svc, objects, pair, container)
        assert BREAKS[dropped] in (refused.value.details() or "")
        assert svc.alive()
