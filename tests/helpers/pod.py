"""bpfman's image under podman, with the volumes bpfman-operator's DaemonSet gives it.

The bpfman container of the operator's pod (``config/bpfman-deployment/daemonset.yaml``
in bpfman/bpfman-operator) is privileged, on the host's network, runs the image's
entrypoint with ``--csi-support``, and mounts:

- ``/run/bpfman-sock``: an ``emptyDir`` shared with the agent; kubelet makes it 0777,
  and the pod's ``fsGroup: 2000`` adds the setgid bit and group 2000 (2777 root:2000);
- ``/run/bpfman``: the host's ``/run/bpfman`` (bpfman's root);
- ``/run/bpfman/csi``: kubelet's ``plugins/csi-bpfman`` directory, where the CSI socket
  goes (Bidirectional);
- ``/var/lib/kubelet/pods``: kubelet's pods directory, where CSI volumes are
  published (Bidirectional);
- ``/sys/fs/bpf``: the host's bpffs (Bidirectional).

Each of those is a fresh directory here, under one temporary directory that is made
a shared mount (Bidirectional propagation needs one; ``/`` is private on this
machine); ``/sys/fs/bpf`` is a private bpffs, never the host's. The container runs
in the foreground of a ``podman run`` process (signals reach the service through
it) and is removed, and every mount under the directory undone, whatever happens.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.helpers import run
from tests.helpers.agent import POD_FS_GROUP
from tests.helpers.service import Service

IMAGE = "localhost/bpfman:latest"
# This machine's podman (see scripts/image/build.sh): crun refuses hybrid cgroups, and
# without CAP_SYS_RESOURCE the default rlimits cannot be set. A normal host with
# systemd and cgroup v2 needs none of these flags.
PODMAN = ["podman", "--runtime", "runc"]
LIMITS = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1000:1000"]
# Where the object files are visible inside the container (read-only).
BYTECODE = "/bytecode"
# The DaemonSet gives the pod its node's name as KUBE_NODE_NAME.
NODE_NAME = "bpfman-test-node"

__all__ = [
    "BYTECODE",
    "IMAGE",
    "LIMITS",
    "NODE_NAME",
    "PODMAN",
    "Pod",
    "kubelet_emptydir",
    "running_pod",
]


@dataclass
class Pod:
    """The running container (``service``: its ``podman run`` process and a client)
    and the host's side of its volumes."""

    name: str
    service: Service
    started: float  # time.perf_counter() as ``podman run`` was started
    root: Path
    socket_dir: Path
    csi_dir: Path
    pods_dir: Path
    bpffs: Path

    @property
    def socket(self) -> Path:
        return self.socket_dir / "bpfman.sock"

    @property
    def csi_socket(self) -> Path:
        return self.csi_dir / "csi.sock"


def kubelet_emptydir(path: Path, fs_group: int = POD_FS_GROUP) -> None:
    """An ``emptyDir`` as kubelet prepares it for a pod with ``fsGroup``: 2777 root:group."""
    path.mkdir()
    os.chown(path, 0, fs_group)
    os.chmod(path, 0o2777)


def podman_run_command(name: str, volumes: dict[Path, str], objects: Path) -> list[str]:
    """``podman run`` for bpfman's container, in the foreground, removed when it stops."""
    mounts = [f"--volume={host}:{inside}" for host, inside in volumes.items()]
    return [
        *PODMAN,
        "run",
        "--rm",
        f"--name={name}",
        *LIMITS,
        "--privileged",
        "--pid=host",
        "--network=host",
        *mounts,
        f"--volume={objects}:{BYTECODE}:ro",
        f"--env=KUBE_NODE_NAME={NODE_NAME}",
        IMAGE,
    ]


@contextlib.contextmanager
def running_pod(objects: Path, args: Sequence[str] = ("--csi-support",)) -> Iterator[Pod]:
    """bpfman's container with the operator's volumes; ``objects`` at :data:`BYTECODE`."""
    top = Path(tempfile.mkdtemp(prefix="bpfman-pod-"))
    # The agent reaches the socket volume from the host here (through top), as in a
    # pod it reaches its own mount of it: top must let it pass.
    top.chmod(0o711)
    name = f"bpfman-test-{uuid.uuid4().hex[:12]}"
    with contextlib.ExitStack() as undo:
        undo.callback(shutil.rmtree, top, ignore_errors=True)
        run(["mount", "--bind", str(top), str(top)])
        undo.callback(_unmount_all, top)
        run(["mount", "--make-shared", str(top)])
        root, csi, pods, bpffs = (top / d for d in ("root", "plugins", "pods", "bpffs"))
        for d in (root, csi, pods, bpffs):
            d.mkdir(mode=0o700 if d is root else 0o755)
        kubelet_emptydir(top / "sock")
        run(["mount", "-t", "bpf", "bpf", str(bpffs)])
        volumes = {
            top / "sock": "/run/bpfman-sock",
            root: "/run/bpfman",
            csi: "/run/bpfman/csi:rshared",
            pods: "/var/lib/kubelet/pods:rshared",
            bpffs: "/sys/fs/bpf:rshared",
        }
        log = top / "podman.log"
        undo.callback(_remove_container, name)
        with log.open("wb") as out:
            started = time.perf_counter()
            proc = subprocess.Popen(
                [*podman_run_command(name, volumes, objects), *args],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        service = Service(proc, top / "sock" / "bpfman.sock", log)
        undo.callback(service.terminate)
        service.wait_ready()
        yield Pod(name, service, started, root, top / "sock", csi, pods, bpffs)


def _remove_container(name: str) -> None:
    """The container, even if its ``podman run`` was killed (then conmon keeps it)."""
    subprocess.run(
        [*PODMAN, "rm", "--force", "--ignore", "--time=5", name],
        capture_output=True,
        check=False,
    )


def _unmount_all(top: Path) -> None:
    """Every mount at or below ``top``: CSI volumes, the bpffs, the shared bind."""
    subprocess.run(["umount", "--recursive", "--lazy", str(top)], check=False)
