"""The CSI node plugin, end to end: the service with ``--csi-support`` on a real
socket, a client in kubelet's place, a real program's maps, and a "pod": a
process in a mount namespace of its own that reads and updates the maps through
the published target path with bpftool, as a container would.

The kubelet directory is a tmpfs made shared and the pod's namespace a slave of
it (a container's HostToContainer propagation), so an unpublish reaches the pod
as it does on a node. Every test leaves no mount behind, even when it fails.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import grpc
import pytest

from bpfman.csi import csi_pb2 as csi
from bpfman.csi import csi_pb2_grpc as csi_grpc
from tests.helpers import run
from tests.helpers.bpftool import map_values
from tests.helpers.root import Root
from tests.helpers.service import Service, running_service
from tests.helpers.wait import eventually

PROGRAM = "counter-app"
GROUP = 2000
NOBODY = 65534
TRACEPOINT = "syscalls/sys_enter_getppid"
Mode = csi.VolumeCapability.AccessMode
APP = """
import sys
from bpfman.kernel.fds import obj_get
from bpfman.kernel.lib import binding
from bpfman.kernel.maps import map_update
b = binding()
with obj_get(sys.argv[1]) as fd:
    if len(sys.argv) > 2:
        map_update(fd.fd, bytes(4), int(sys.argv[2]).to_bytes(8, "little"))
    value = b.ffi.new("char[8]")
    assert b.bpf.bpf_map_lookup_elem(fd.fd, bytes(4), value) == 0
    print(int.from_bytes(b.ffi.buffer(value), "little"))
"""


class Kubelet:
    """kubelet's side: the CSI socket, the pods directory and its calls."""

    def __init__(self, service: Service, socket: Path, pods: Path) -> None:
        self.service = service
        self.socket = socket
        self.pods = pods
        self.channel = grpc.insecure_channel(f"unix:{socket}")
        grpc.channel_ready_future(self.channel).result(timeout=20)
        self.identity = csi_grpc.IdentityStub(self.channel)  # type: ignore[no-untyped-call]
        self.node = csi_grpc.NodeStub(self.channel)  # type: ignore[no-untyped-call]

    def target(self, name: str) -> Path:
        parent = self.pods / name / "volumes"
        parent.mkdir(parents=True, exist_ok=True)
        return parent / "mount"

    def publish(
        self,
        volume: str,
        target: Path | str,
        program: str = PROGRAM,
        maps: str = "counts",
        readonly: bool = False,
        group: str = "",
        mode: int = Mode.SINGLE_NODE_WRITER,
    ) -> csi.NodePublishVolumeResponse:
        cap = csi.VolumeCapability(
            mount=csi.VolumeCapability.MountVolume(volume_mount_group=group),
            access_mode=Mode(mode=mode),  # type: ignore[arg-type]
        )
        request = csi.NodePublishVolumeRequest(
            volume_id=volume,
            target_path=str(target),
            volume_capability=cap,
            readonly=readonly,
            volume_context={"csi.bpfman.io/program": program, "csi.bpfman.io/maps": maps},
        )
        response: csi.NodePublishVolumeResponse = self.node.NodePublishVolume(request, timeout=30)
        return response

    def unpublish(self, volume: str, target: Path | str) -> None:
        request = csi.NodeUnpublishVolumeRequest(volume_id=volume, target_path=str(target))
        self.node.NodeUnpublishVolume(request, timeout=30)

    def refused(self, call: Any, *args: Any, **kwargs: Any) -> tuple[grpc.StatusCode, str]:
        with pytest.raises(grpc.RpcError) as caught:
            call(*args, **kwargs)
        error: Any = caught.value
        return error.code(), error.details()


class Pod:
    """A process in a mount namespace of its own, a slave of the host's mounts."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(["unshare", "-m", "--propagation", "slave", "sleep", "600"])
        mine = os.readlink("/proc/self/ns/mnt")
        assert eventually(lambda: os.readlink(f"/proc/{self.proc.pid}/ns/mnt") != mine)

    def run(self, *args: str, user: int = 0, group: int = 0) -> subprocess.CompletedProcess[str]:
        who = ["setpriv", f"--reuid={user}", f"--regid={group}", "--clear-groups"] if user else []
        command = ["nsenter", "-t", str(self.proc.pid), "-m", "--", *who, *args]
        return subprocess.run(command, capture_output=True, text=True, check=False)

    def counts(self, pin: Path) -> int:
        """Key 0 of the map, read with ``bpftool map dump`` in the pod."""
        proc = self.run("bpftool", "-j", "map", "dump", "pinned", str(pin))
        assert proc.returncode == 0, proc.stdout + proc.stderr
        [entry] = json.loads(proc.stdout)
        return int.from_bytes(bytes(int(b, 16) for b in entry["value"]), "little")

    def set_counts(self, pin: Path, value: int) -> str:
        """``bpftool map update`` of key 0 in the pod; its stderr (empty when it worked)."""
        raw = [str(b) for b in value.to_bytes(8, "little")]
        key = ["key", "0", "0", "0", "0"]
        proc = self.run("bpftool", "map", "update", "pinned", str(pin), *key, "value", *raw)
        return proc.stderr.strip()

    def app(self, pin: Path, user: int, group: int, value: int | None = None) -> str:
        """An unprivileged process of the pod opens the pin (read-write), maybe writes
        key 0, and reads it back (bpftool needs CAP_SYS_ADMIN for the map's BTF)."""
        args = [sys.executable, "-c", APP, str(pin)] + ([] if value is None else [str(value)])
        proc = self.run(*args, user=user, group=group)
        return proc.stdout.strip() if proc.returncode == 0 else proc.stderr.strip()

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()


def csi_mounts(*under: Path) -> list[tuple[str, str, str]]:
    """(mount point, source, per-mount options) of bpfman's CSI mounts below ``under``."""
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fields, tail = left.split(), right.split()
            point, source = fields[4], tail[1]
            if source.startswith("bpfman-csi:") and any(point.startswith(f"{p}/") for p in under):
                found.append((point, source, fields[5]))
    return found


def points(*under: Path) -> list[str]:
    return sorted(point for point, _, _ in csi_mounts(*under))


@pytest.fixture
def pods() -> Iterator[Path]:
    """kubelet's pods directory: a shared tmpfs, so mounts propagate to the pods."""
    path = Path(tempfile.mkdtemp(prefix="bpfman-pods-"))
    run(["mount", "-t", "tmpfs", "-o", "mode=0755", "bpfman-pods", str(path)])
    run(["mount", "--make-shared", str(path)])
    try:
        yield path
    finally:
        run(["umount", "-l", str(path)])
        path.rmdir()


@pytest.fixture
def program(root: Root, objects: Path) -> int:
    """The operator's program: tagged with bpfman.io/ProgramName, attached, counting."""
    prog_id = root.load_id(
        objects / "tracepoint_counter.bpf.o",
        "--programs",
        "tracepoint:tracepoint_counter",
        "-m",
        f"bpfman.io/ProgramName={PROGRAM}",
        "-m",
        "bpfman.io/uuid=3b9c6a6e-0c4e-4c43-9a8e-5f0e9d7f9a01",
    )
    root.attach(prog_id, "tracepoint", "-t", TRACEPOINT)
    return prog_id


@contextlib.contextmanager
def csi_service(root: Root, pods: Path, *args: str, **kwargs: Any) -> Iterator[Kubelet]:
    """The service with --csi-support, and kubelet's client of it."""
    socket = root.path / "csi" / "csi.sock"  # where it is by default: <root>/csi/csi.sock
    env = {"NODE_NAME": "node-7"}
    args = ("--csi-support", "--csi-socket-path", str(socket), *args)
    with running_service(root.path, *args, env=env, **kwargs) as service:
        kubelet = Kubelet(service, socket, pods)
        try:
            yield kubelet
        finally:
            kubelet.channel.close()


@pytest.fixture
def kubelet(root: Root, pods: Path, program: int) -> Iterator[Kubelet]:
    with no_mounts_left(root, pods), csi_service(root, pods) as kubelet:
        yield kubelet


@contextlib.contextmanager
def no_mounts_left(root: Root, pods: Path) -> Iterator[None]:
    """Whatever the test does, no CSI mount of its root or pods survives it."""
    try:
        yield
    finally:
        for point in reversed(points(root.path.resolve(), pods)):
            subprocess.run(["umount", "-l", point], check=False)


def test_csi_calls_keep_the_service_from_idling_out(root: Root, pods: Path) -> None:
    """kubelet's calls count as the agent's do: a service with an idle timeout (the
    operator gives --timeout=0, but a plain --csi-support keeps the default) stays up
    while kubelet uses it, then idles out as usual."""
    with no_mounts_left(root, pods), csi_service(root, pods, "--timeout", "2") as kubelet:
        service = kubelet.service
        calls = 0
        started = time.monotonic()
        while time.monotonic() - started < 6:  # three times the idle timeout
            assert kubelet.identity.Probe(csi.ProbeRequest(), timeout=10).ready.value
            calls += 1
            time.sleep(0.2)
        assert service.alive(), service.logs()
        assert service.proc.wait(timeout=30) == 0, service.logs()
        logs = service.logs()
    assert "shutting down (idle for 2 s)" in logs
    assert calls > 10


def new_pod(request: pytest.FixtureRequest) -> Pod:
    pod = Pod()
    request.addfinalizer(pod.close)
    return pod


def test_kubelet_calls_every_rpc_and_the_pod_uses_the_map(
    kubelet: Kubelet, root: Root, program: int, request: pytest.FixtureRequest
) -> None:
    info = kubelet.identity.GetPluginInfo(csi.GetPluginInfoRequest())
    assert info.name == "csi.bpfman.io"
    assert info.vendor_version == metadata.version("bpfman")
    assert (
        list(
            kubelet.identity.GetPluginCapabilities(csi.GetPluginCapabilitiesRequest()).capabilities
        )
        == []
    )
    probe = kubelet.identity.Probe(csi.ProbeRequest())
    assert probe.HasField("ready") and probe.ready.value
    assert kubelet.node.NodeGetInfo(csi.NodeGetInfoRequest()).node_id == "node-7"
    caps = kubelet.node.NodeGetCapabilities(csi.NodeGetCapabilitiesRequest()).capabilities
    assert [c.rpc.type for c in caps] == [csi.NodeServiceCapability.RPC.VOLUME_MOUNT_GROUP]
    for method in (
        "NodeStageVolume",
        "NodeUnstageVolume",
        "NodeGetVolumeStats",
        "NodeExpandVolume",
    ):
        call: Any = kubelet.channel.unary_unary(f"/csi.v1.Node/{method}")
        code, _ = kubelet.refused(call, b"", timeout=10)
        assert code is grpc.StatusCode.UNIMPLEMENTED, method

    target = kubelet.target("pod-a")
    kubelet.publish("vol-a", target, group=str(GROUP))
    pin = target / "counts"
    st = os.stat(pin)
    assert (st.st_mode & 0o7777, st.st_gid) == (0o660, GROUP)
    assert points(kubelet.pods) == [str(target)]

    pod = new_pod(request)
    os.getppid()  # the program counts every getppid, this one included
    assert pod.counts(pin) >= 1
    assert pod.set_counts(pin, 41_000) == ""
    host_pin = root.maps(program) / "counts"
    assert map_values(str(host_pin))[0] >= 41_000  # the pod wrote the program's own map
    # An unprivileged container process in the volume's group uses the map too;
    # one outside the group cannot even look into the volume.
    assert int(pod.app(pin, NOBODY, GROUP)) >= 41_000
    assert int(pod.app(pin, NOBODY, GROUP, value=7)) >= 7
    assert "Permission denied" in pod.app(pin, NOBODY, NOBODY)
    assert 7 <= map_values(str(host_pin))[0] < 41_000

    # Only root reaches the socket: kubelet and the registrar run as root on the node.
    connect = f"import socket; socket.socket(socket.AF_UNIX).connect({str(kubelet.socket)!r})"
    attacker = subprocess.run(
        ["setpriv", f"--reuid={NOBODY}", f"--regid={GROUP}", "--clear-groups", sys.executable,
         "-c", connect], capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert "PermissionError" in attacker.stderr

    kubelet.unpublish("vol-a", target)
    assert points(kubelet.pods, root.path.resolve()) == []
    assert not target.exists()
    gone = pod.run("ls", "-A", str(target))
    assert "counts" not in gone.stdout
    kubelet.unpublish("vol-a", target)  # idempotent


def test_readonly_volume(kubelet: Kubelet, request: pytest.FixtureRequest) -> None:
    target = kubelet.target("pod-ro")
    kubelet.publish("vol-ro", target, readonly=True, group=str(GROUP))
    [(_, _, options)] = [m for m in csi_mounts(kubelet.pods)]
    assert options.split(",")[0] == "ro"
    pin = target / "counts"
    assert os.stat(pin).st_mode & 0o7777 == 0o440
    pod = new_pod(request)
    assert pod.counts(pin) >= 0
    pinned = pod.run("bpftool", "map", "pin", "pinned", str(pin), str(target / "more"))
    assert "Read-only file system" in pinned.stderr
    assert "Read-only file system" in pod.run("rm", "-f", str(pin)).stderr
    assert "Permission denied" in pod.app(pin, NOBODY, GROUP, value=5)

    kubelet.publish("vol-ro", target, readonly=True, group=str(GROUP))  # the same: OK
    code, _ = kubelet.refused(kubelet.publish, "vol-ro", target, readonly=False, group=str(GROUP))
    assert code is grpc.StatusCode.ALREADY_EXISTS
    # The reader-only access mode makes a read-only volume as well.
    other = kubelet.target("pod-ro2")
    kubelet.publish("vol-ro2", other, mode=Mode.SINGLE_NODE_READER_ONLY)
    assert [o.split(",")[0] for p, _, o in csi_mounts(kubelet.pods) if p == str(other)] == ["ro"]
    kubelet.unpublish("vol-ro2", other)
    kubelet.unpublish("vol-ro", target)
    assert points(kubelet.pods) == []


def test_idempotency_and_refusals(kubelet: Kubelet, root: Root, tmp_path: Path) -> None:
    target = kubelet.target("pod-b")
    for _ in range(2):
        kubelet.publish("vol-b", target)
    assert points(kubelet.pods) == [str(target)]

    def code_of(*args: Any, **kwargs: Any) -> grpc.StatusCode:
        code, message = kubelet.refused(kubelet.publish, *args, **kwargs)
        assert "Traceback" not in message and "\n" not in message
        return code

    assert code_of("vol-b", target, program="another") is grpc.StatusCode.ALREADY_EXISTS
    assert code_of("vol-b", target, maps="counts,more") is grpc.StatusCode.ALREADY_EXISTS
    assert code_of("vol-other", target) is grpc.StatusCode.ALREADY_EXISTS
    assert code_of("vol-b", kubelet.target("pod-c")) is grpc.StatusCode.FAILED_PRECONDITION

    fresh = kubelet.target("pod-d")
    assert code_of("vol-d", fresh, program="not-loaded") is grpc.StatusCode.NOT_FOUND
    assert code_of("vol-d", fresh, maps="counts,nope") is grpc.StatusCode.NOT_FOUND
    assert code_of("vol-d", fresh, program="") is grpc.StatusCode.INVALID_ARGUMENT
    assert code_of("vol-d", fresh, maps=" , ") is grpc.StatusCode.INVALID_ARGUMENT
    assert code_of("vol-d", fresh, maps="../counts") is grpc.StatusCode.INVALID_ARGUMENT
    assert code_of("vol-d", fresh, group="staff") is grpc.StatusCode.INVALID_ARGUMENT
    assert code_of("vol-d", "relative/mount") is grpc.StatusCode.INVALID_ARGUMENT
    assert code_of("vol-d", f"{kubelet.pods}/pod-d/../x") is grpc.StatusCode.INVALID_ARGUMENT
    assert code_of("", fresh) is grpc.StatusCode.INVALID_ARGUMENT
    multi = Mode.MULTI_NODE_MULTI_WRITER
    assert code_of("vol-d", fresh, mode=multi) is grpc.StatusCode.FAILED_PRECONDITION
    assert code_of("vol-d", fresh, mode=Mode.UNKNOWN) is grpc.StatusCode.INVALID_ARGUMENT
    # A symlink in the target's parents is never followed: nothing appears where it points.
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (kubelet.pods / "pod-e").symlink_to(elsewhere)
    assert code_of("vol-e", kubelet.pods / "pod-e" / "mount") is grpc.StatusCode.INVALID_ARGUMENT
    (kubelet.pods / "pod-e2").mkdir()
    (kubelet.pods / "pod-e2" / "mount").symlink_to(elsewhere)
    assert code_of("vol-e", kubelet.pods / "pod-e2" / "mount") is grpc.StatusCode.INVALID_ARGUMENT
    assert list(elsewhere.iterdir()) == []
    # Another filesystem already mounted at the target is never covered.
    busy = kubelet.target("pod-f")
    busy.mkdir()
    run(["mount", "-t", "tmpfs", "foreign", str(busy)])
    try:
        assert code_of("vol-f", busy) is grpc.StatusCode.FAILED_PRECONDITION
    finally:
        run(["umount", str(busy)])
    no_capability = csi.NodePublishVolumeRequest(volume_id="vol-g", target_path=str(fresh))
    code, _ = kubelet.refused(kubelet.node.NodePublishVolume, no_capability)
    assert code is grpc.StatusCode.INVALID_ARGUMENT
    block = csi.NodePublishVolumeRequest(
        volume_id="vol-g",
        target_path=str(fresh),
        volume_capability=csi.VolumeCapability(
            block=csi.VolumeCapability.BlockVolume(), access_mode=Mode(mode=Mode.SINGLE_NODE_WRITER)
        ),
    )
    code, _ = kubelet.refused(kubelet.node.NodePublishVolume, block)
    assert code is grpc.StatusCode.FAILED_PRECONDITION
    code, _ = kubelet.refused(kubelet.unpublish, "vol-b", kubelet.target("pod-c"))
    assert code is grpc.StatusCode.NOT_FOUND
    # The failures left nothing: one volume, mounted once at its target and once privately.
    assert points(kubelet.pods) == [str(target)]
    assert not fresh.exists()
    assert len(points(root.path.resolve())) == 1
    kubelet.unpublish("vol-b", target)
    assert points(kubelet.pods, root.path.resolve()) == []


def test_concurrent_publishes_of_one_volume_take_turns(kubelet: Kubelet, root: Root) -> None:
    target = kubelet.target("pod-h")
    errors: list[BaseException] = []

    def publish() -> None:
        try:
            kubelet.publish("vol-h", target)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=publish) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert points(kubelet.pods) == [str(target)]
    assert len(points(root.path.resolve())) == 1
    kubelet.unpublish("vol-h", target)
    assert points(kubelet.pods, root.path.resolve()) == []


def test_unload_leaves_the_pods_copy_working(
    kubelet: Kubelet, root: Root, program: int, request: pytest.FixtureRequest
) -> None:
    """The documented choice: unload goes ahead; the volume's pins keep the maps alive."""
    target = kubelet.target("pod-u")
    kubelet.publish("vol-u", target)
    pod = new_pod(request)
    assert pod.set_counts(target / "counts", 1234) == ""
    root.run("unload", str(program))
    assert not root.maps(program).exists()
    assert pod.counts(target / "counts") == 1234
    code, _ = kubelet.refused(kubelet.publish, "vol-v", kubelet.target("pod-v"))
    assert code is grpc.StatusCode.NOT_FOUND  # a new volume needs the program loaded again
    kubelet.unpublish("vol-u", target)
    assert points(kubelet.pods, root.path.resolve()) == []


def test_a_killed_service_restarts_with_its_volumes(
    root: Root, pods: Path, program: int, request: pytest.FixtureRequest
) -> None:
    with no_mounts_left(root, pods):
        with csi_service(root, pods) as kubelet:
            target = kubelet.target("pod-k")
            kubelet.publish("vol-k", target, group=str(GROUP))
            os.killpg(kubelet.service.proc.pid, signal.SIGKILL)
            kubelet.service.proc.wait()
        mounted = points(pods, root.path.resolve())
        with csi_service(root, pods) as kubelet:
            assert points(pods, root.path.resolve()) == mounted  # nothing lost, nothing added
            pod = new_pod(request)
            assert pod.set_counts(target / "counts", 77) == ""
            kubelet.publish("vol-k", target, group=str(GROUP))  # recorded: OK, not stacked
            assert points(pods, root.path.resolve()) == mounted
            kubelet.unpublish("vol-k", target)
            assert points(pods, root.path.resolve()) == []
            assert "counts" not in pod.run("ls", "-A", str(target)).stdout


@pytest.mark.parametrize(
    ("readonly", "nth_mount", "left"),
    [(False, 2, "its bpffs"), (True, 3, "its bpffs and the bind at the target")],
)
def test_a_publish_killed_midway_is_undone_at_restart(
    root: Root, pods: Path, program: int, readonly: bool, nth_mount: int, left: str
) -> None:
    """SIGKILL at the publish's 2nd (the bind) or 3rd mount(2) (the read-only remount)."""
    kill = [
        "strace",
        "-f",
        "-qq",
        "-o",
        "/dev/null",
        "-e",
        f"inject=mount:signal=KILL:when={nth_mount}",
    ]
    with no_mounts_left(root, pods):
        with csi_service(root, pods, prefix=kill) as kubelet:
            target = kubelet.target("pod-m")
            code, _ = kubelet.refused(kubelet.publish, "vol-m", target, readonly=readonly)
            assert code is grpc.StatusCode.UNAVAILABLE
            assert kubelet.service.proc.wait(timeout=30) != 0
        expected = 2 if readonly else 1
        assert len(points(pods, root.path.resolve())) == expected, left
        with csi_service(root, pods) as kubelet:
            assert points(pods, root.path.resolve()) == []  # reconciled at start
            kubelet.publish("vol-m", target, readonly=readonly)
            assert len(points(pods)) == 1
            kubelet.unpublish("vol-m", target)
            assert points(pods, root.path.resolve()) == []
