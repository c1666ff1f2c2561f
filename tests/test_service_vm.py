"""kprobe, fentry/fexit and the xdp dispatcher through gRPC, in the VM lane.

The host kernel has no kprobes and refuses tracing programs and freplace, so
these run in the QEMU guest; the service is a real process on a temporary
socket there too, and the results are read from outside (map counters, the CLI).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.bpftool import map_values, net_show
from tests.helpers.net import VethPair
from tests.helpers.root import Root
from tests.helpers.service import Service, file_load, pb, running_service

pytestmark = pytest.mark.vm
UNLINKS = 5


@pytest.fixture
def svc(root: Root) -> Iterator[Service]:
    with running_service(root.path) as service:
        yield service


def test_probes_tracing_and_the_xdp_dispatcher_through_grpc(
    svc: Service, root: Root, objects: Path, tmp_path: Path
) -> None:
    """One service for both parts: its start alone takes minutes under emulation."""
    kprobe_kretprobe_and_fentry_fexit(svc, objects, tmp_path)
    xdp_dispatcher_orders_programs(svc, root, objects)


def pid_global() -> dict[str, bytes]:
    return {"target_pid": os.getpid().to_bytes(4, "little")}


def unlink_files(tmp_path: Path, count: int) -> None:
    for i in range(count):
        path = tmp_path / f"victim-{i}"
        path.write_text("x")
        os.unlink(path)


def kprobe_kretprobe_and_fentry_fexit(svc: Service, objects: Path, tmp_path: Path) -> None:
    s = svc.stub
    entry, ret = s.Load(
        file_load(
            objects / "kprobe_counter.bpf.o",
            (pb.KPROBE, "kprobe_counter"),
            (pb.KPROBE, "kretprobe_counter"),
            globals_=pid_global(),
        )
    ).programs
    for prog in (entry, ret):
        info = pb.KprobeAttachInfo(fn_name="do_unlinkat")
        s.Attach(
            pb.AttachRequest(id=prog.kernel_info.id, attach=pb.AttachInfo(kprobe_attach_info=info))
        )
    request = pb.LoadRequest(
        bytecode=pb.BytecodeLocation(file=str(objects / "fentry_counter.bpf.o")),
        info=[
            pb.LoadInfo(name="test_fentry", program_type=pb.FENTRY,
                        info=pb.ProgSpecificInfo(fentry_load_info=pb.FentryLoadInfo(fn_name="do_unlinkat"))),
            pb.LoadInfo(name="test_fexit", program_type=pb.FEXIT,
                        info=pb.ProgSpecificInfo(fexit_load_info=pb.FexitLoadInfo(fn_name="do_unlinkat"))),
        ],
        global_data=pid_global(),
    )  # fmt: skip
    fentry, fexit = s.Load(request).programs
    s.Attach(pb.AttachRequest(id=fentry.kernel_info.id,
                              attach=pb.AttachInfo(fentry_attach_info=pb.FentryAttachInfo())))  # fmt: skip
    s.Attach(pb.AttachRequest(id=fexit.kernel_info.id,
                              attach=pb.AttachInfo(fexit_attach_info=pb.FexitAttachInfo())))  # fmt: skip
    unlink_files(tmp_path, UNLINKS)
    assert map_values(f"{entry.info.map_pin_path}/counts") == {0: UNLINKS, 1: UNLINKS}
    assert map_values(f"{fentry.info.map_pin_path}/counts") == {0: UNLINKS, 1: UNLINKS}
    for prog in (entry, ret, fentry, fexit):
        s.Unload(pb.UnloadRequest(id=prog.kernel_info.id))
    assert s.List(pb.ListRequest(bpfman_programs_only=True)).results == []


def xdp_dispatcher_orders_programs(svc: Service, root: Root, objects: Path) -> None:
    s = svc.stub
    with VethPair() as pair:
        ids: list[int] = []
        for slot, priority in ((0, 200), (1, 50)):
            [prog] = s.Load(
                file_load(
                    objects / "xdp_chain.bpf.o",
                    (pb.XDP, "xdp_chain"),
                    globals_={
                        "prog_slot": slot.to_bytes(4, "little"),
                        "verdict": (2).to_bytes(4, "little"),
                    },
                    map_owner_id=ids[0] if ids else None,
                )
            ).programs
            ids.append(prog.kernel_info.id)
            info = pb.XDPAttachInfo(iface=pair.if_b, priority=priority, netns=pair.netns_path_b,
                                    proceed_on=[2, 31])  # fmt: skip
            s.Attach(
                pb.AttachRequest(id=prog.kernel_info.id, attach=pb.AttachInfo(xdp_attach_info=info))
            )
        links: Any = root.json("list", "links")
        order = {row["program_id"]: row["position"] for row in links}
        assert order == {ids[1]: 0, ids[0]: 1}  # lower priority runs first
        assert len(net_show(pair.if_b, pair.netns_path_b)["xdp"]) == 1  # one dispatcher
        pair.listen_udp(4242)
        pair.send_udp(10, 4242)
        assert pair.udp_received(4242, 10) == 10
        counts = map_values(str(root.path / "fs" / "maps" / str(ids[0]) / "counts"))
        assert counts[0] == counts[1] == 10
        for prog_id in ids:
            s.Unload(pb.UnloadRequest(id=prog_id))
        assert net_show(pair.if_b, pair.netns_path_b)["xdp"] == []
