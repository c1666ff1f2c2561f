"""The container's cold start: ``podman run`` of bpfman's image to its first answer.

From starting ``podman run`` (the image of ``make image``, with bpfman-operator's
volumes, tests/helpers/pod.py) until the first ``List`` over the socket is answered,
against ``bpfman-rpc`` started directly on the host with the same arguments until
the same answer. Both include Python's start and the service's recovery pass; the
container adds podman, the OCI runtime, its mounts and a Python that starts from the
image's bytecode. Median of ``--runs`` starts each, after one start each to warm
the page cache.

    make image && python -m bench.container [--runs N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.helpers.build import bpf_objects  # noqa: E402
from tests.helpers.pod import IMAGE, running_pod  # noqa: E402
from tests.helpers.root import fresh_root  # noqa: E402
from tests.helpers.service import pb, running_service  # noqa: E402

ARGS = ("--csi-support",)
RPC = [str(Path(sys.executable).parent / "bpfman-rpc")]


def in_container(objects: Path) -> float:
    with running_pod(objects, ARGS) as pod:
        pod.service.stub.List(pb.ListRequest())
        return time.perf_counter() - pod.started


def on_host() -> float:
    with fresh_root() as root:
        started = time.perf_counter()
        with running_service(root.path, *ARGS, command=RPC) as svc:
            svc.stub.List(pb.ListRequest())
            return time.perf_counter() - started


def median(start: Callable[[], float], runs: int) -> float:
    start()  # warm
    return statistics.median(start() for _ in range(runs))


def measure(runs: int) -> tuple[float, float]:
    """Median cold starts, in seconds: (in the container, on the host)."""
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)  # users have bytecode caches
    objects = bpf_objects()
    return median(lambda: in_container(objects), runs), median(on_host, runs)


def report(container: float, host: float) -> str:
    return (
        f"{'figure':<48}{'container':>12}{'host':>10}{'ratio':>9}\n"
        f"{'cold start to the first answered List (median)':<48}"
        f"{container * 1000:>10.0f}ms{host * 1000:>8.0f}ms{container / host:>8.2f}x"
    )


def image_built() -> bool:
    return subprocess.run(["podman", "image", "exists", IMAGE], check=False).returncode == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(report(*measure(args.runs)))


if __name__ == "__main__":
    main()
