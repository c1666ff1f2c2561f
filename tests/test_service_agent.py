"""The bpfman-operator agent's contract, under the operator's conditions.

The pod's socket volume is an emptyDir that kubelet makes 0777, setgid, in the pod's
fsGroup 2000; the agent runs without root in that group. A client in its place replays
its calls (bpfman-operator's controllers/bpfman-agent): Load tagged with
``bpfman.io/uuid`` and ``bpfman.io/ProgramName``, Get, Attach, Get (it reads
``info.links``), Detach, Unload, then Get must answer NOT_FOUND. An id bpfman does not
manage, or no longer manages, is NOT_FOUND at once, an unload is final when it returns
(in the CLI too), and zero values of optional ids mean "not set".
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from tests.helpers.bpftool import bpftool, prog_ids
from tests.helpers.root import REPO, Root
from tests.helpers.service import Service, file_load, pb, rpc_error, running_service

FS_GROUP = 2000
AGENT = ["setpriv", "--reuid=65534", f"--regid={FS_GROUP}", "--clear-groups", "--"]
RPC = [sys.executable, "-m", "bpfman.cli.rpc"]
TRACEPOINT = "syscalls/sys_enter_getppid"
UUID = "0b8c6f2e-5a43-4d1e-9d7e-2f0c1a3b4c5d"

# The agent's calls, in its order (GetBpfmanProgramById, AttachBpfmanProgram, ...).
_AGENT = """
import json, sys
import grpc
from bpfman.service import bpfman_pb2 as pb, bpfman_pb2_grpc

socket, obj, uuid = sys.argv[1:]
stub = bpfman_pb2_grpc.BpfmanStub(grpc.insecure_channel("unix:" + socket))
meta = {"bpfman.io/uuid": uuid, "bpfman.io/ProgramName": "agent-app"}
load = pb.LoadRequest(
    bytecode=pb.BytecodeLocation(file=obj),
    info=[pb.LoadInfo(name="tracepoint_counter", program_type=pb.TRACEPOINT)],
    metadata=meta,
    uuid="",
)
[loaded] = stub.Load(load).programs
prog = loaded.kernel_info.id
out = {"program": prog}
found = stub.List(pb.ListRequest(match_metadata={"bpfman.io/uuid": uuid})).results
out["found"] = [r.kernel_info.id for r in found]
out["links_before"] = list(stub.Get(pb.GetRequest(id=prog)).info.links)
tp = pb.TracepointAttachInfo(tracepoint="syscalls/sys_enter_getppid")
link = stub.Attach(pb.AttachRequest(id=prog, attach=pb.AttachInfo(tracepoint_attach_info=tp))).link_id
out["link"] = link
out["links_attached"] = list(stub.Get(pb.GetRequest(id=prog)).info.links)
stub.Detach(pb.DetachRequest(link_id=link))
out["links_detached"] = list(stub.Get(pb.GetRequest(id=prog)).info.links)
stub.Unload(pb.UnloadRequest(id=prog))
try:
    stub.Get(pb.GetRequest(id=prog))
    out["after_unload"] = "OK"
except grpc.RpcError as exc:
    out["after_unload"] = exc.code().name
print(json.dumps(out))
"""


@pytest.fixture
def pod_socket() -> Iterator[Path]:
    """The socket path in a directory prepared as kubelet prepares an emptyDir with fsGroup."""
    base = Path(tempfile.mkdtemp(prefix="bpfman-pod-"))
    try:
        os.chmod(base, 0o755)  # the pod's containers reach their mounts
        volume = base / "bpfman-sock"
        volume.mkdir()
        os.chown(volume, 0, FS_GROUP)
        os.chmod(volume, 0o2777)
        yield volume / "bpfman.sock"
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_the_agents_sequence_as_uid_65534_through_the_pods_socket_volume(
    root: Root, objects: Path, pod_socket: Path
) -> None:
    obj = objects / "tracepoint_counter.bpf.o"
    args = ("--csi-support",)  # the operator's arguments (with --timeout=0)
    with running_service(root.path, *args, command=RPC, socket=pod_socket) as svc:
        st = os.lstat(pod_socket)
        assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (0, FS_GROUP, 0o660)
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        agent = subprocess.run(
            [*AGENT, sys.executable, "-c", _AGENT, str(pod_socket), str(obj), UUID],
            env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert agent.returncode == 0, agent.stderr + svc.logs()
        seen = json.loads(agent.stdout)
        prog, link = seen["program"], seen["link"]
        assert seen["found"] == [prog]
        assert seen["links_before"] == [] and seen["links_attached"] == [link]
        assert seen["links_detached"] == []
        assert seen["after_unload"] == "NOT_FOUND"
        # From outside: nothing is left in the kernel or the state.
        assert prog not in prog_ids()
        assert link not in {int(x["id"]) for x in bpftool("link", "show")}
        assert root.json("list", "programs") == []
        logs = svc.logs()
    assert f"Load from uid=65534 gid={FS_GROUP}" in logs
    assert "is writable by everyone (mode 2777)" in logs


@pytest.fixture
def svc(root: Root) -> Iterator[Service]:
    with running_service(root.path) as service:
        yield service


_HOLD = """
import sys, time
from bpfman import kernel
fd = kernel.prog_fd_by_id(int(sys.argv[1]))
print("held", flush=True)
time.sleep(float(sys.argv[2]))
"""


@contextlib.contextmanager
def freed_late(prog_id: int, seconds: float = 2.0) -> Iterator[None]:
    """The kernel lets the program go only ``seconds`` after its unload.

    It frees an unloaded program after an RCU grace period and its links' deferred
    release, a second or two on a busy host; a process holding an fd for a while
    makes that delay certain.
    """
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLD, str(prog_id), str(seconds)],
        stdout=subprocess.PIPE, text=True, cwd=REPO,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        yield
    finally:
        holder.kill()
        holder.wait()


def tracepoint(objects: Path) -> pb.LoadRequest:
    return file_load(objects / "tracepoint_counter.bpf.o", (pb.TRACEPOINT, "tracepoint_counter"))


def test_an_unload_over_grpc_is_final_when_it_returns(svc: Service, objects: Path) -> None:
    [loaded] = svc.stub.Load(tracepoint(objects)).programs
    prog = loaded.kernel_info.id
    tp = pb.AttachInfo(tracepoint_attach_info=pb.TracepointAttachInfo(tracepoint=TRACEPOINT))
    svc.stub.Attach(pb.AttachRequest(id=prog, attach=tp))
    with freed_late(prog):
        svc.stub.Unload(pb.UnloadRequest(id=prog))
        assert rpc_error(lambda: svc.stub.Get(pb.GetRequest(id=prog))).code() == (
            grpc.StatusCode.NOT_FOUND
        )
        again = rpc_error(lambda: svc.stub.Unload(pb.UnloadRequest(id=prog)))
        assert again.code() == grpc.StatusCode.NOT_FOUND, again.details()
        everything = svc.stub.List(pb.ListRequest()).results
        assert prog not in {r.kernel_info.id for r in everything}
        assert prog not in prog_ids()


def test_an_unload_in_the_cli_is_final_when_it_returns(root: Root, objects: Path) -> None:
    loaded: Any = root.json(
        "load", "file", "-p", objects / "tracepoint_counter.bpf.o",
        "--programs", "tracepoint:tracepoint_counter",
    )  # fmt: skip
    prog = int(loaded[0]["id"])
    root.run("attach", prog, "tracepoint", "-t", TRACEPOINT)
    with freed_late(prog):
        root.run("unload", prog)
        assert root.fail("get", "program", prog) == f"Error: no program with id {prog}"
        assert prog not in {row["id"] for row in root.json("list", "programs", "--all")}


def test_ids_bpfman_does_not_manage_are_not_found(
    svc: Service, objects: Path, foreign: int
) -> None:
    """The agent reads ``info`` of any Get that answers OK: an unmanaged id must not."""
    tp = pb.AttachInfo(tracepoint_attach_info=pb.TracepointAttachInfo(tracepoint=TRACEPOINT))
    s = svc.stub
    for name, call in [
        ("get", lambda: s.Get(pb.GetRequest(id=foreign))),
        ("attach", lambda: s.Attach(pb.AttachRequest(id=foreign, attach=tp))),
        ("unload", lambda: s.Unload(pb.UnloadRequest(id=foreign))),
    ]:
        err = rpc_error(call)
        assert err.code() == grpc.StatusCode.NOT_FOUND, name
        assert err.details() == f"program {foreign} is not managed by bpfman", name
    # List without bpfman_programs_only still shows the kernel's programs.
    everything = {r.kernel_info.id: r for r in s.List(pb.ListRequest()).results}
    assert foreign in everything and not everything[foreign].HasField("info")
    only = s.List(pb.ListRequest(bpfman_programs_only=True)).results
    assert foreign not in {r.kernel_info.id for r in only}
    assert foreign in prog_ids(), "bpfman left it alone"


def test_explicit_zeros_mean_not_set(svc: Service, root: Root, objects: Path) -> None:
    request = file_load(objects / "uprobe_counter.bpf.o", (pb.UPROBE, "uprobe_counter"))
    request.map_owner_id = 0
    [loaded] = svc.stub.Load(request).programs
    prog = loaded.kernel_info.id
    assert not loaded.info.HasField("map_owner_id")
    assert loaded.info.map_pin_path == str(root.path / "fs" / "maps" / str(prog))
    info = pb.UprobeAttachInfo(target="libc", fn_name="getpid", pid=0, container_pid=0)
    assert info.HasField("pid") and info.HasField("container_pid")
    link = svc.stub.Attach(
        pb.AttachRequest(id=prog, attach=pb.AttachInfo(uprobe_attach_info=info))
    ).link_id
    shown: Any = root.json("get", "link", link)
    assert (shown["params"]["pid"], shown["params"]["container_pid"]) == (None, None)
    svc.stub.Unload(pb.UnloadRequest(id=prog))


def test_a_relative_bytecode_path_is_refused(svc: Service, objects: Path) -> None:
    """The service would resolve it against its own working directory."""
    relative = os.path.relpath(objects / "tracepoint_counter.bpf.o", REPO)  # the service's cwd
    request = file_load(relative, (pb.TRACEPOINT, "tracepoint_counter"))
    err = rpc_error(lambda: svc.stub.Load(request))
    assert err.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert f"bytecode.file {relative!r} is relative" in (err.details() or "")
    assert svc.stub.List(pb.ListRequest(bpfman_programs_only=True)).results == []
