"""CSI volume publish latency against a plain bpffs pin of the same maps.

- ``NodePublishVolume`` of a program's maps through the service's CSI socket
  (a subprocess with ``--csi-support``; the client runs here): median wall
  time per call. Each publish gets its own volume and target; they are
  unpublished between runs, untimed.
- The peer: the same maps pinned into a bpffs by this process (open the pin in
  bpfman's bpffs, pin it again), the least a volume takes; unpinned untimed.

What a publish adds to the pins: the gRPC round trip and relay, the writers'
lock and a store commit, a fresh bpffs mount, the bind mount at the target
and the mountinfo reads that check it.

    python -m bench.csi [--runs N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import grpc

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.cli_latency import BPFMAN, unload_all  # noqa: E402
from bpfman import kernel  # noqa: E402
from bpfman.csi import csi_pb2 as csi  # noqa: E402
from bpfman.csi import csi_pb2_grpc as csi_grpc  # noqa: E402
from tests.helpers.build import bpf_object  # noqa: E402
from tests.helpers.service import running_service  # noqa: E402

PROGRAM = "bench-app"
MAPS = ("counts",)


def median(work: Callable[[int], None], undo: Callable[[int], None], runs: int) -> float:
    """Median wall time of ``work(i)``, with ``undo(i)`` after each run, untimed."""
    samples = []
    for i in range(runs + 1):
        start = time.perf_counter()
        work(i)
        samples.append(time.perf_counter() - start)
        undo(i)
    return statistics.median(samples[1:])  # the first run warms caches


def publish_request(volume: str, target: Path) -> csi.NodePublishVolumeRequest:
    cap = csi.VolumeCapability(
        mount=csi.VolumeCapability.MountVolume(),
        access_mode=csi.VolumeCapability.AccessMode(
            mode=csi.VolumeCapability.AccessMode.SINGLE_NODE_WRITER
        ),
    )
    attributes = {"csi.bpfman.io/program": PROGRAM, "csi.bpfman.io/maps": ",".join(MAPS)}
    return csi.NodePublishVolumeRequest(
        volume_id=volume, target_path=str(target), volume_capability=cap, volume_context=attributes
    )


def measure(runs: int) -> tuple[float, float]:
    """Median seconds per call: (a CSI publish of MAPS, a plain bpffs pin of them)."""
    root = Path(tempfile.mkdtemp(prefix="bpfman-bench-csi-"))
    pods = Path(tempfile.mkdtemp(prefix="bpfman-bench-pods-"))
    peer = Path(tempfile.mkdtemp(prefix="bpfman-bench-pins-"))
    env = {**os.environ, "BPFMAN_ROOT": str(root)}
    subprocess.run(
        [*BPFMAN, "load", "file", "-p", str(bpf_object("tracepoint_counter")),
         "--programs", "tracepoint:tracepoint_counter", "-m", f"bpfman.io/ProgramName={PROGRAM}"],
        env=env, check=True, capture_output=True,
    )  # fmt: skip
    [owner] = os.listdir(root / "fs" / "maps")
    sources = [str(root / "fs" / "maps" / owner / name) for name in MAPS]
    subprocess.run(["mount", "-t", "bpf", "bpf", str(peer)], check=True)
    socket = root / "csi" / "csi.sock"
    try:
        with running_service(root, "--csi-support", "--csi-socket-path", str(socket)):
            channel = grpc.insecure_channel(f"unix:{socket}")
            node = csi_grpc.NodeStub(channel)  # type: ignore[no-untyped-call]

            def publish(i: int) -> None:
                node.NodePublishVolume(publish_request(f"vol-{i}", pods / f"pod-{i}"))

            def unpublish(i: int) -> None:
                request = csi.NodeUnpublishVolumeRequest(
                    volume_id=f"vol-{i}", target_path=str(pods / f"pod-{i}")
                )
                node.NodeUnpublishVolume(request)

            def pin(i: int) -> None:
                for source, name in zip(sources, MAPS, strict=True):
                    with kernel.obj_get(source) as fd:
                        kernel.obj_pin(fd.fd, str(peer / f"{name}-{i}"))

            def unpin(i: int) -> None:
                for name in MAPS:
                    os.unlink(peer / f"{name}-{i}")

            return median(publish, unpublish, runs), median(pin, unpin, runs)
    finally:
        subprocess.run(["umount", str(peer)], check=False)
        peer.rmdir()
        unload_all(root)
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(pods, ignore_errors=True)


def report(csi_time: float, pin_time: float) -> str:
    return (
        f"{'figure (median per call)':<44}{'CSI':>12}{'pin':>12}{'ratio':>9}\n"
        f"{f'publish of {len(MAPS)} map(s) vs a plain bpffs pin':<44}"
        f"{csi_time * 1000:>10.2f}ms{pin_time * 1000:>10.3f}ms{csi_time / pin_time:>8.0f}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=51)
    args = parser.parse_args()
    print(report(*measure(args.runs)))


if __name__ == "__main__":
    main()
