"""The bpfman.v1 gRPC service, end to end: a real service process on a
temporary socket, a real client built from the committed stubs, real programs
in the kernel, results read from outside (bpftool, map counters, the CLI).
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import grpc
import pytest

from bpfman.dispatcher.loader import freplace_support
from tests.helpers.bpftool import bpftool, map_values, net_show, prog_ids, prog_show
from tests.helpers.net import VethPair
from tests.helpers.root import Root
from tests.helpers.service import Service, file_load, pb, rpc_error, running_service
from tests.helpers.wait import eventually

TRACEPOINT = "syscalls/sys_enter_getppid"
PORT = 4242
PACKETS = 20


def u32(value: int) -> bytes:
    return value.to_bytes(4, "little")


def s32(value: int) -> bytes:
    return value.to_bytes(4, "little", signed=True)


@pytest.fixture
def svc(root: Root) -> Iterator[Service]:
    with running_service(root.path) as service:
        yield service
    assert service.proc.returncode == 0, service.logs()


@pytest.fixture
def direct_svc(root: Root) -> Iterator[Service]:
    """The service with xdp/tc in direct mode (as the host kernel refuses freplace)."""
    env = {"BPFMAN_FREPLACE": "0"} if freplace_support().supported else {}
    with running_service(root.path, env=env) as service:
        yield service


@pytest.fixture
def pair() -> Iterator[VethPair]:
    with VethPair() as veth:
        yield veth


def managed(svc: Service) -> list[Any]:
    return list(svc.stub.List(pb.ListRequest(bpfman_programs_only=True)).results)


def kernel_link_ids(prog_id: int) -> list[int]:
    return [int(link["id"]) for link in bpftool("link", "show") if link["prog_id"] == prog_id]


# -- every RPC on a tracepoint ---------------------------------------------------------
def test_tracepoint_load_attach_get_list_detach_unload(
    svc: Service, root: Root, objects: Path
) -> None:
    obj = objects / "tracepoint_counter.bpf.o"
    request = file_load(
        obj,
        (pb.TRACEPOINT, "tracepoint_counter"),
        globals_={"target_pid": u32(os.getpid()), "increment": u32(3)},
        metadata={"owner": "grpc-test"},
    )
    [loaded] = svc.stub.Load(request).programs
    prog_id = loaded.kernel_info.id
    assert loaded.info.name == "tracepoint_counter"
    assert loaded.info.bytecode.file == str(obj)
    assert dict(loaded.info.global_data) == {"target_pid": u32(os.getpid()), "increment": u32(3)}
    assert dict(loaded.info.metadata) == {"owner": "grpc-test"}
    assert not loaded.info.HasField("map_owner_id")
    assert list(loaded.info.map_used_by) == [str(prog_id)]
    assert loaded.info.map_pin_path == str(root.path / "fs" / "maps" / str(prog_id))
    kernel = prog_show(prog_id)
    assert loaded.kernel_info.name == "tracepoint_counter"  # in full, from BTF
    assert loaded.kernel_info.tag == kernel["tag"]
    assert loaded.kernel_info.program_type == 5  # BPF_PROG_TYPE_TRACEPOINT
    assert sorted(loaded.kernel_info.map_ids) == sorted(kernel["map_ids"])
    # The kernel info is what `bpfman get program` shows.
    shown: Any = root.json("get", "program", prog_id)
    assert loaded.kernel_info.loaded_at in root.run("get", "program", prog_id).stdout
    assert loaded.kernel_info.verified_insns == shown["kernel"]["verified_insns"]

    tp = pb.TracepointAttachInfo(tracepoint=TRACEPOINT, metadata={"link": "one"})
    link_id = svc.stub.Attach(
        pb.AttachRequest(id=prog_id, attach=pb.AttachInfo(tracepoint_attach_info=tp))
    ).link_id
    assert len(kernel_link_ids(prog_id)) == 1
    for _ in range(25):
        os.getppid()
    assert map_values(f"{loaded.info.map_pin_path}/counts")[0] == 75

    got = svc.stub.Get(pb.GetRequest(id=prog_id))
    assert list(got.info.links) == [link_id]
    assert got.kernel_info.id == prog_id
    [listed] = managed(svc)
    assert listed.info.links == [link_id] and listed.kernel_info.id == prog_id
    cli_link: Any = root.json("get", "link", link_id)
    assert cli_link["metadata"] == {"link": "one"}

    svc.stub.Detach(pb.DetachRequest(link_id=link_id))
    assert eventually(lambda: not kernel_link_ids(prog_id))
    assert list(svc.stub.Get(pb.GetRequest(id=prog_id)).info.links) == []
    svc.stub.Unload(pb.UnloadRequest(id=prog_id))
    assert eventually(lambda: prog_id not in prog_ids())
    assert managed(svc) == []


def test_unload_detaches_first_and_uprobe_counts(svc: Service, objects: Path) -> None:
    request = file_load(
        objects / "uprobe_counter.bpf.o",
        (pb.UPROBE, "uprobe_counter"),
        globals_={"target_pid": u32(os.getpid())},
    )
    [loaded] = svc.stub.Load(request).programs
    prog_id = loaded.kernel_info.id
    info = pb.UprobeAttachInfo(target="libc", fn_name="getpid")
    svc.stub.Attach(pb.AttachRequest(id=prog_id, attach=pb.AttachInfo(uprobe_attach_info=info)))
    libc = ctypes.CDLL("libc.so.6")
    for _ in range(10):
        libc.getpid()
    assert map_values(f"{loaded.info.map_pin_path}/counts")[0] >= 10
    assert kernel_link_ids(prog_id)
    svc.stub.Unload(pb.UnloadRequest(id=prog_id))
    assert eventually(lambda: prog_id not in prog_ids())
    assert not kernel_link_ids(prog_id)


# -- network hooks -------------------------------------------------------------------------
def _load_chain(
    svc: Service, objects: Path, kind: str, ptype: int, verdict: int
) -> pb.LoadResponseInfo:
    request = file_load(
        objects / f"{kind}_chain.bpf.o",
        (ptype, f"{kind}_chain"),
        globals_={"prog_slot": s32(0), "verdict": s32(verdict)},
    )
    [loaded] = svc.stub.Load(request).programs
    return cast(pb.LoadResponseInfo, loaded)


@pytest.mark.parametrize(
    ("kind", "ptype", "verdict"),
    [("tcx", pb.TCX, -1), ("xdp", pb.XDP, 2), ("tc", pb.TC, 0)],  # TCX_NEXT, XDP_PASS, TC_ACT_OK
)
def test_network_hooks_count_real_packets(
    direct_svc: Service, objects: Path, pair: VethPair, kind: str, ptype: int, verdict: int
) -> None:
    svc = direct_svc
    loaded = _load_chain(svc, objects, kind, ptype, verdict)
    prog_id = loaded.kernel_info.id
    common: dict[str, Any] = {"iface": pair.if_b, "priority": 50, "netns": pair.netns_path_b}
    if kind == "tcx":
        attach = pb.AttachInfo(tcx_attach_info=pb.TCXAttachInfo(direction="ingress", **common))
    elif kind == "xdp":
        attach = pb.AttachInfo(xdp_attach_info=pb.XDPAttachInfo(proceed_on=[2, 31], **common))
    else:
        info = pb.TCAttachInfo(direction="ingress", proceed_on=[0, 3, 30], **common)
        attach = pb.AttachInfo(tc_attach_info=info)
    link_id = svc.stub.Attach(pb.AttachRequest(id=prog_id, attach=attach)).link_id

    shown = net_show(pair.if_b, pair.netns_path_b)
    if kind == "tcx":
        assert [e["prog_id"] for e in shown["tcx"]] == [prog_id]
    elif kind == "xdp":
        assert [e["id"] for e in shown["xdp"]] == [prog_id]
    else:
        assert [e["id"] for e in shown["tc"]] == [prog_id]
    pair.listen_udp(PORT)
    pair.send_udp(PACKETS, PORT)
    assert pair.udp_received(PORT, PACKETS) == PACKETS
    assert map_values(f"{loaded.info.map_pin_path}/counts")[0] == PACKETS

    svc.stub.Detach(pb.DetachRequest(link_id=link_id))
    shown = net_show(pair.if_b, pair.netns_path_b)
    assert not shown["tcx"] and not shown["xdp"] and not shown["tc"]
    svc.stub.Unload(pb.UnloadRequest(id=prog_id))


# -- loads: maps, all or nothing ----------------------------------------------------------
def test_first_program_owns_the_maps_and_map_owner_id_shares_them(
    svc: Service, objects: Path
) -> None:
    obj = objects / "app_counter.bpf.o"
    first, second = svc.stub.Load(
        file_load(obj, (pb.TRACEPOINT, "tracepoint_kill_recorder"), (pb.UPROBE, "uprobe_counter"))
    ).programs
    owner = first.kernel_info.id
    assert not first.info.HasField("map_owner_id")
    assert second.info.map_owner_id == owner
    assert second.info.map_pin_path == first.info.map_pin_path
    ids = sorted([str(owner), str(second.kernel_info.id)])
    assert sorted(first.info.map_used_by) == ids
    [third] = svc.stub.Load(file_load(obj, (pb.TCX, "tcx_stats"), map_owner_id=owner)).programs
    assert third.info.map_owner_id == owner
    shared = set(first.kernel_info.map_ids) & set(third.kernel_info.map_ids)
    assert shared, "the program loaded with map_owner_id reuses the owner's maps"
    got = svc.stub.Get(pb.GetRequest(id=owner))
    assert len(got.info.map_used_by) == 3


def programs_held_by(pid: int) -> set[int]:
    """Ids of the programs a process holds an fd to (its fdinfo ``prog_id:`` lines)."""
    held = set()
    for fdinfo in Path(f"/proc/{pid}/fdinfo").iterdir():
        try:
            text = fdinfo.read_text()
        except OSError:
            continue  # closed meanwhile
        held |= {int(line.split()[1]) for line in text.splitlines() if line.startswith("prog_id:")}
    return held


def test_a_failing_program_loads_nothing(svc: Service, root: Root, objects: Path) -> None:
    pid = int(re.findall(r"starting \(pid (\d+)", svc.logs())[0])
    err = rpc_error(
        lambda: svc.stub.Load(
            file_load(
                objects / "multi.bpf.o", (pb.TRACEPOINT, "good_prog"), (pb.TRACEPOINT, "bad_prog")
            )
        )
    )
    assert err.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.PERMISSION_DENIED)
    assert "\n" not in (err.details() or "")
    assert managed(svc) == []
    assert not list((root.path / "fs").glob("prog_*"))
    maps = root.path / "fs" / "maps"
    assert not maps.exists() or not list(maps.iterdir())
    # the kernel is shared with other tests: nothing of the failed load is kept
    # alive by the service (no program fd left open, no pin)
    assert programs_held_by(pid) == set()


# -- bad requests ---------------------------------------------------------------------------
def test_bad_requests_get_status_codes_and_the_service_stays_up(
    svc: Service, root: Root, objects: Path, foreign: int
) -> None:
    tp_obj = objects / "tracepoint_counter.bpf.o"
    [loaded] = svc.stub.Load(file_load(tp_obj, (pb.TRACEPOINT, "tracepoint_counter"))).programs
    prog_id = loaded.kernel_info.id
    code = grpc.StatusCode
    xdp = pb.AttachInfo(xdp_attach_info=pb.XDPAttachInfo(iface="lo", priority=10))
    bad_proceed = pb.AttachInfo(xdp_attach_info=pb.XDPAttachInfo(iface="lo", proceed_on=[77]))
    tp_missing = pb.AttachInfo(
        tracepoint_attach_info=pb.TracepointAttachInfo(tracepoint="nosuch/tracepoint")
    )
    s = svc.stub
    cases: list[tuple[str, Callable[[], object], grpc.StatusCode, str]] = [
        ("empty load", lambda: s.Load(pb.LoadRequest()), code.INVALID_ARGUMENT, "bytecode"),
        ("no programs", lambda: s.Load(file_load(tp_obj)), code.INVALID_ARGUMENT, "no program"),
        ("missing file", lambda: s.Load(file_load("/nonexistent/x.o", (pb.XDP, "x"))),
         code.NOT_FOUND, "/nonexistent/x.o"),
        ("unknown global",
         lambda: s.Load(file_load(tp_obj, (pb.TRACEPOINT, "tracepoint_counter"), globals_={"nope": b"\0"})),
         code.INVALID_ARGUMENT, "nope"),
        ("global size",
         lambda: s.Load(file_load(tp_obj, (pb.TRACEPOINT, "tracepoint_counter"), globals_={"increment": b"\1"})),
         code.INVALID_ARGUMENT, "increment"),
        ("unknown type", lambda: s.Load(file_load(tp_obj, (42, "tracepoint_counter"))),
         code.INVALID_ARGUMENT, "program_type 42"),
        ("type mismatch", lambda: s.Load(file_load(tp_obj, (pb.LSM, "tracepoint_counter"))),
         code.INVALID_ARGUMENT, "is a tracepoint program (section `tracepoint/syscalls/sys_enter_getppid`), not lsm"),
        ("no attach info", lambda: s.Attach(pb.AttachRequest(id=prog_id)),
         code.INVALID_ARGUMENT, "missing attach info"),
        ("unknown program", lambda: s.Attach(pb.AttachRequest(id=4_000_000_000, attach=xdp)),
         code.NOT_FOUND, "no program with id 4000000000"),
        ("wrong kind", lambda: s.Attach(pb.AttachRequest(id=prog_id, attach=xdp)),
         code.INVALID_ARGUMENT, "send tracepoint_attach_info, not xdp_attach_info"),
        ("foreign", lambda: s.Attach(pb.AttachRequest(id=foreign, attach=xdp)),
         code.NOT_FOUND, "not managed by bpfman"),
        ("no tracepoint", lambda: s.Attach(pb.AttachRequest(id=prog_id, attach=tp_missing)),
         code.NOT_FOUND, "nosuch"),
        ("unknown link", lambda: s.Detach(pb.DetachRequest(link_id=5)), code.NOT_FOUND, "no link with id 5"),
        ("unload unknown", lambda: s.Unload(pb.UnloadRequest(id=4_000_000_000)), code.NOT_FOUND, "no program"),
        ("unload foreign", lambda: s.Unload(pb.UnloadRequest(id=foreign)),
         code.NOT_FOUND, "not managed"),
        ("get unknown", lambda: s.Get(pb.GetRequest(id=4_000_000_000)), code.NOT_FOUND, "no program"),
        ("list type", lambda: s.List(pb.ListRequest(program_type=9999)), code.INVALID_ARGUMENT, "9999"),
        ("pull nothing", lambda: s.PullBytecode(pb.PullBytecodeRequest()), code.INVALID_ARGUMENT, "image"),
        ("pull policy",
         lambda: s.PullBytecode(pb.PullBytecodeRequest(image=pb.BytecodeImage(url="x/y:z", image_pull_policy=7))),
         code.INVALID_ARGUMENT, "image_pull_policy"),
    ]  # fmt: skip
    for name, call, expected, fragment in cases:
        err = rpc_error(call)
        details = err.details() or ""
        assert err.code() == expected, f"{name}: {err.code()} {details}"
        assert fragment in details, f"{name}: {details}"
        assert "\n" not in details and "Traceback" not in details, name
    # xdp proceed_on codes are checked for a program of that type
    [xdp_prog] = s.Load(file_load(objects / "xdp_chain.bpf.o", (pb.XDP, "xdp_chain"))).programs
    err = rpc_error(
        lambda: s.Attach(pb.AttachRequest(id=xdp_prog.kernel_info.id, attach=bad_proceed))
    )
    assert err.code() == code.INVALID_ARGUMENT and "proceed_on value 77" in (err.details() or "")
    # The same one-line message the CLI prints.
    cli = root.fail("detach", 5)
    assert cli == f"Error: {rpc_error(lambda: s.Detach(pb.DetachRequest(link_id=5))).details()}"
    assert svc.alive()
    assert {r.kernel_info.id for r in managed(svc)} == {prog_id, xdp_prog.kernel_info.id}
    assert "Traceback" not in svc.logs()


# -- queries -------------------------------------------------------------------------------
def test_list_shows_programs_bpfman_did_not_load(svc: Service, foreign: int) -> None:
    everything = {r.kernel_info.id: r for r in svc.stub.List(pb.ListRequest()).results}
    assert foreign in everything and not everything[foreign].HasField("info")
    assert everything[foreign].kernel_info.program_type == 5
    assert foreign not in {r.kernel_info.id for r in managed(svc)}
    by_type = svc.stub.List(pb.ListRequest(program_type=6)).results  # xdp
    assert foreign not in {r.kernel_info.id for r in by_type}


def test_operator_contract_metadata_finds_exactly_one(svc: Service, objects: Path) -> None:
    """bpfman-operator's agent tags loads and finds each with match_metadata."""
    obj = objects / "tracepoint_counter.bpf.o"
    ids = {}
    for uuid in ("7d1c0f9a-1", "7d1c0f9a-2"):
        meta = {"bpfman.io/uuid": uuid, "bpfman.io/ProgramName": "tp-counter"}
        [loaded] = svc.stub.Load(
            file_load(obj, (pb.TRACEPOINT, "tracepoint_counter"), metadata=meta)
        ).programs
        ids[uuid] = loaded.kernel_info.id
    for uuid, prog_id in ids.items():
        wanted = {"bpfman.io/uuid": uuid, "bpfman.io/ProgramName": "tp-counter"}
        results = svc.stub.List(pb.ListRequest(match_metadata=wanted)).results
        assert [r.kernel_info.id for r in results] == [prog_id]
        assert results[0].info.metadata["bpfman.io/uuid"] == uuid
    both = svc.stub.List(pb.ListRequest(match_metadata={"bpfman.io/ProgramName": "tp-counter"}))
    assert len(both.results) == 2
    none = svc.stub.List(pb.ListRequest(match_metadata={"bpfman.io/uuid": "absent"}))
    assert len(none.results) == 0


def test_cli_and_grpc_share_one_state(svc: Service, root: Root, objects: Path) -> None:
    obj = objects / "tracepoint_counter.bpf.o"
    [via_grpc] = svc.stub.Load(file_load(obj, (pb.TRACEPOINT, "tracepoint_counter"))).programs
    listed: Any = root.json("list", "programs")
    assert [row["id"] for row in listed] == [via_grpc.kernel_info.id]
    loaded: Any = root.json(
        "load", "file", "-p", obj, "--programs", "tracepoint:tracepoint_counter"
    )
    via_cli = int(loaded[0]["id"])
    assert {r.kernel_info.id for r in managed(svc)} == {via_grpc.kernel_info.id, via_cli}
    out = root.run("attach", "--output", "json", via_cli, "tracepoint", "-t", TRACEPOINT).stdout
    link = json.loads(out)
    assert list(svc.stub.Get(pb.GetRequest(id=via_cli)).info.links) == [link["id"]]
    root.run("unload", via_grpc.kernel_info.id)
    err = rpc_error(lambda: svc.stub.Get(pb.GetRequest(id=via_grpc.kernel_info.id)))
    assert err.code() == grpc.StatusCode.NOT_FOUND
    svc.stub.Unload(pb.UnloadRequest(id=via_cli))
    assert root.json("list", "programs") == []


_CONNECT = """
import socket, sys
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(sys.argv[1])
except PermissionError:
    sys.exit(13)
"""


def test_nobody_cannot_reach_the_service(svc: Service, root: Root) -> None:
    """The socket is root's (0660, root:root): another user cannot even connect."""
    st = os.lstat(svc.socket)
    assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (0, 0, 0o660)
    nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"]
    python = "/usr/bin/python3"  # the venv's interpreter may sit under a private home
    proc = subprocess.run([*nobody, python, "-c", _CONNECT, str(svc.socket)], check=False)
    assert proc.returncode == 13
    assert svc.alive() and svc.stub.List(pb.ListRequest()).results is not None
