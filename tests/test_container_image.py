"""bpfman's container image (``make image``) as bpfman-operator's DaemonSet runs it.

The image is built first (``make image``: from its caches in seconds when nothing
changed, so the image tested is always the worktree's), then run under podman,
privileged, on the host's PID and network namespaces, with the operator's volumes
(tests/helpers/pod.py). A client in the agent's place (another user, reaching the
socket through the pod's fsGroup) and one in kubelet's (the CSI socket, targets in
kubelet's pods directory) drive it from outside the container, and the kernel and
the published volumes are read from outside too (bpftool, the host's mounts).
"""

from __future__ import annotations

import os
import stat
import subprocess
import uuid
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import grpc
import pytest

from bpfman.csi import csi_pb2 as csi
from bpfman.csi import csi_pb2_grpc as csi_grpc
from tests.helpers.agent import AGENT_UID, POD_FS_GROUP, Agent, AgentError
from tests.helpers.bpftool import bpftool, find_map_id, links_of, map_values, prog_ids
from tests.helpers.pod import BYTECODE, IMAGE, LIMITS, NODE_NAME, PODMAN, Pod, running_pod
from tests.helpers.root import REPO
from tests.helpers.service import pb
from tests.helpers.wait import eventually

TRACEPOINT = "syscalls/sys_enter_getppid"
KUBELET_PODS = "/var/lib/kubelet/pods"


@pytest.fixture(scope="module")
def image() -> str:
    """``make image``, whose last line names the image and its size."""
    built = subprocess.run(
        ["make", "-s", "image"], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert built.returncode == 0, built.stdout + built.stderr
    assert built.stdout.strip().splitlines()[-1].startswith(f"{IMAGE} ")
    return IMAGE


@pytest.fixture
def pod(image: str, objects: Path) -> Iterator[Pod]:
    """The pod's bpfman container; afterwards it stopped cleanly and left nothing behind."""
    with running_pod(objects) as running:
        yield running
    assert running.service.proc.returncode == 0, running.service.logs()
    assert running.name not in containers()
    top = running.socket_dir.parent
    assert not top.exists()
    assert str(top) not in Path("/proc/self/mountinfo").read_text()


def containers() -> set[str]:
    """Names of every container podman knows, running or not."""
    listed = subprocess.run(
        [*PODMAN, "ps", "--all", "--format", "{{.Names}}"],
        capture_output=True,
        text=True,
        check=True,
    )
    return set(listed.stdout.split())


def inside(image: str, script: str) -> str:
    """``sh -c SCRIPT`` in a throwaway container of the image (no service started)."""
    out = subprocess.run(
        [*PODMAN, "run", "--rm", *LIMITS, "--entrypoint=/bin/sh", image, "-c", script],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def tracepoint_load(metadata: dict[str, str]) -> pb.LoadRequest:
    """The agent's Load of a tracepoint program, tagged as the agent tags it."""
    return pb.LoadRequest(
        bytecode=pb.BytecodeLocation(file=f"{BYTECODE}/tracepoint_counter.bpf.o"),
        info=[pb.LoadInfo(name="tracepoint_counter", program_type=pb.TRACEPOINT)],
        metadata=metadata,
    )


def test_the_image_runs_bpfman_rpc_with_the_operators_arguments(image: str) -> None:
    """Entrypoint and arguments as the reference's image: the pod adds --csi-support."""
    fmt = '{{json .Config.Entrypoint}} {{json .Config.Cmd}} {{index .Labels "org.opencontainers.image.version"}}'
    out = subprocess.run(
        [*PODMAN, "image", "inspect", "--format", fmt, image],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    version = metadata.version("bpfman")
    assert out.split() == ['["bpfman-rpc","--timeout=0"]', "null", version]
    shown = inside(image, "bpfman -V; bpfman-rpc --timeout=0 --csi-support --help >/dev/null")
    assert shown.split() == ["bpfman", version]


def test_the_image_holds_python_libbpf_and_bpfman_alone(image: str) -> None:
    """libbpf1 and Python from Debian, bpfman in a venv; no pip, compiler, apt lists, docs."""
    script = """
        dpkg-query -W -f='${Package}\\n' libbpf1 python3
        python3 -c 'import ctypes; ctypes.CDLL("libbpf.so.1")' && echo libbpf-loads
        /opt/bpfman/bin/python -c 'import bpfman.kernel.lib, grpc, lmdb; print("imports")'
        for tool in pip pip3 gcc cc clang apt-get; do command -v $tool; done
        ls /opt/bpfman/bin | grep -i pip
        find /var/lib/apt/lists /var/cache/apt /usr/share/man -mindepth 1 | head -1
        find /usr/share/doc -type f ! -name copyright | head -1
        true
    """
    assert inside(image, script).split() == [
        "libbpf1",
        "python3",
        "libbpf-loads",
        "imports",
        "/usr/bin/apt-get",  # the base is Debian's, as debian:bookworm-slim keeps apt
    ]


def test_the_agents_lifecycle_through_the_pods_socket(pod: Pod, objects: Path) -> None:
    """Load, Get, Attach, Get, Detach, Unload as bpfman-agent calls them, from its user."""
    st = os.stat(pod.socket_dir)
    assert (stat.S_IMODE(st.st_mode), st.st_gid) == (0o2777, POD_FS_GROUP)  # kubelet's emptyDir
    st = os.lstat(pod.socket)
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o660, 0, POD_FS_GROUP)

    with Agent(pod.socket, AGENT_UID, AGENT_UID) as outsider:  # not in the pod's group
        with pytest.raises(AgentError) as refused:
            outsider.call("List", pb.ListRequest(), pb.ListResponse)
        assert refused.value.code == "UNAVAILABLE"

    uid = str(uuid.uuid4())
    metadata = {"bpfman.io/uuid": uid, "bpfman.io/ProgramName": "tracepoint-counter"}
    with Agent(pod.socket, AGENT_UID, POD_FS_GROUP) as agent:
        listed = agent.call("List", pb.ListRequest(match_metadata=metadata), pb.ListResponse)
        assert list(listed.results) == []
        load = tracepoint_load(metadata)
        load.global_data["target_pid"] = os.getpid().to_bytes(4, "little")
        [loaded] = agent.call("Load", load, pb.LoadResponse).programs
        prog_id = loaded.kernel_info.id
        assert prog_id in prog_ids()  # loaded in the host's kernel, seen from outside

        got = agent.call("Get", pb.GetRequest(id=prog_id), pb.GetResponse)
        assert dict(got.info.metadata) == metadata and list(got.info.links) == []

        tracepoint = pb.TracepointAttachInfo(tracepoint=TRACEPOINT)
        attach = pb.AttachRequest(
            id=prog_id, attach=pb.AttachInfo(tracepoint_attach_info=tracepoint)
        )
        link_id = agent.call("Attach", attach, pb.AttachResponse).link_id
        assert len(links_of(prog_id)) == 1
        for _ in range(7):
            os.getppid()
        assert map_values(find_map_id(prog_id, "counts"))[0] == 7

        got = agent.call("Get", pb.GetRequest(id=prog_id), pb.GetResponse)
        assert list(got.info.links) == [link_id]
        found = agent.call("List", pb.ListRequest(match_metadata=metadata), pb.ListResponse)
        assert [r.kernel_info.id for r in found.results] == [prog_id]

        agent.call("Detach", pb.DetachRequest(link_id=link_id), pb.DetachResponse)
        assert eventually(lambda: not links_of(prog_id))
        agent.call("Unload", pb.UnloadRequest(id=prog_id), pb.UnloadResponse)
        with pytest.raises(AgentError) as gone:
            agent.call("Get", pb.GetRequest(id=prog_id), pb.GetResponse)
        assert gone.value.code == "NOT_FOUND"
    assert eventually(lambda: prog_id not in prog_ids())


def test_kubelet_publishes_the_agents_program_maps_into_a_pods_volume(pod: Pod) -> None:
    """The CSI socket in the registrar's directory; a volume kubelet sees on the host."""
    metadata = {"bpfman.io/uuid": str(uuid.uuid4()), "bpfman.io/ProgramName": "counter-app"}
    with Agent(pod.socket, AGENT_UID, POD_FS_GROUP) as agent:
        [loaded] = agent.call("Load", tracepoint_load(metadata), pb.LoadResponse).programs
        prog_id = loaded.kernel_info.id
        with grpc.insecure_channel(f"unix:{pod.csi_socket}") as channel:
            identity = csi_grpc.IdentityStub(channel)  # type: ignore[no-untyped-call]
            node = csi_grpc.NodeStub(channel)  # type: ignore[no-untyped-call]
            assert identity.GetPluginInfo(csi.GetPluginInfoRequest()).name == "csi.bpfman.io"
            assert identity.Probe(csi.ProbeRequest()).ready.value
            node_id = node.NodeGetInfo(csi.NodeGetInfoRequest()).node_id
            assert node_id == NODE_NAME  # the operator's KUBE_NODE_NAME

            # kubelet names the target in its own view, which is the container's too
            volume = Path("pod-7e1f", "volumes", "kubernetes.io~csi", "counts")
            (pod.pods_dir / volume).mkdir(parents=True)
            target = volume / "mount"
            capability = csi.VolumeCapability(
                mount=csi.VolumeCapability.MountVolume(volume_mount_group=str(POD_FS_GROUP)),
                access_mode=csi.VolumeCapability.AccessMode(
                    mode=csi.VolumeCapability.AccessMode.SINGLE_NODE_WRITER
                ),
            )
            publish = csi.NodePublishVolumeRequest(
                volume_id="csi-7e1f",
                target_path=f"{KUBELET_PODS}/{target}",
                volume_capability=capability,
                volume_context={
                    "csi.bpfman.io/program": "counter-app",
                    "csi.bpfman.io/maps": "counts",
                },
            )
            node.NodePublishVolume(publish, timeout=30)
            pin = pod.pods_dir / target / "counts"
            st = os.stat(pin)
            assert (stat.S_IMODE(st.st_mode), st.st_gid) == (0o660, POD_FS_GROUP)
            # Mounted on the host (Bidirectional): the program's own map, not a copy.
            map_id = find_map_id(prog_id, "counts")
            assert bpftool("map", "show", "pinned", str(pin))["id"] == map_id
            key, value = bytes(4), (42).to_bytes(8, "little")
            bpftool("map", "update", "pinned", str(pin), "key", *map(str, key), "value",
                    *map(str, value))  # fmt: skip
            assert map_values(map_id)[0] == 42

            unpublish = csi.NodeUnpublishVolumeRequest(
                volume_id="csi-7e1f", target_path=f"{KUBELET_PODS}/{target}"
            )
            node.NodeUnpublishVolume(unpublish, timeout=30)
            assert not pin.exists()
            assert str(pod.pods_dir / target) not in Path("/proc/self/mountinfo").read_text()
        agent.call("Unload", pb.UnloadRequest(id=prog_id), pb.UnloadResponse)
    assert eventually(lambda: prog_id not in prog_ids())
