"""The gRPC service against the CLI, on the same root and the same programs.

- ``List`` (bpfman's programs) with 100 programs loaded, against
  ``bpfman list programs``: median wall time per call; target <= 0.2x.
- load + attach (tracepoint) + detach + unload round trips per second through
  gRPC, against the same four steps as four CLI commands; target >= 5x.

The service is a subprocess on a temporary socket; the client runs here, so a
gRPC figure includes the client's serialisation and the socket.

    python -m bench.service [--runs N] [--cycles N]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.cli_latency import BPFMAN, unload_all  # noqa: E402
from bench.metrics import load_programs  # noqa: E402
from tests.helpers.build import bpf_object  # noqa: E402
from tests.helpers.service import Service, file_load, pb, running_service  # noqa: E402

TRACEPOINT = "syscalls/sys_enter_getppid"


def timed(fn: object, runs: int) -> float:
    assert callable(fn)
    fn()  # warm
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def cli(env: dict[str, str], *args: str) -> str:
    return subprocess.run(
        [*BPFMAN, *args], env=env, check=True, capture_output=True, text=True
    ).stdout


def grpc_cycle(svc: Service, obj: Path) -> None:
    [loaded] = svc.stub.Load(file_load(obj, (pb.TRACEPOINT, "tracepoint_counter"))).programs
    prog_id = loaded.kernel_info.id
    tp = pb.AttachInfo(tracepoint_attach_info=pb.TracepointAttachInfo(tracepoint=TRACEPOINT))
    link = svc.stub.Attach(pb.AttachRequest(id=prog_id, attach=tp)).link_id
    svc.stub.Detach(pb.DetachRequest(link_id=link))
    svc.stub.Unload(pb.UnloadRequest(id=prog_id))


def cli_cycle(env: dict[str, str], obj: Path) -> None:
    prog_id = json.loads(
        cli(
            env,
            "load",
            "file",
            "-p",
            str(obj),
            "--programs",
            "tracepoint:tracepoint_counter",
            "-o",
            "json",
        )
    )[0]["id"]
    link = json.loads(
        cli(env, "attach", "--output", "json", str(prog_id), "tracepoint", "-t", TRACEPOINT)
    )["id"]
    cli(env, "detach", str(link))
    cli(env, "unload", str(prog_id))


def rate(cycle: object, cycles: int) -> float:
    assert callable(cycle)
    cycle()  # warm
    start = time.perf_counter()
    for _ in range(cycles):
        cycle()
    return cycles / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--cycles", type=int, default=20)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bpfman-bench-svc-"))
    env = {**os.environ, "BPFMAN_ROOT": str(root)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # users have bytecode caches
    obj = bpf_object("tracepoint_counter")
    try:
        with running_service(root) as svc:
            grpc_rate = rate(lambda: grpc_cycle(svc, obj), args.cycles)
            cli_rate = rate(lambda: cli_cycle(env, obj), max(3, args.cycles // 4))
            load_programs(root, 100)
            request = pb.ListRequest(bpfman_programs_only=True)
            assert len(svc.stub.List(request).results) == 100
            grpc_list = timed(lambda: svc.stub.List(request), args.runs)
            cli_list = timed(lambda: cli(env, "list", "programs"), args.runs)
    finally:
        unload_all(root)
        shutil.rmtree(root, ignore_errors=True)
    print(f"{'figure':<44}{'gRPC':>12}{'CLI':>12}{'ratio':>9}  target")
    print(
        f"{'List, 100 programs (median per call)':<44}{grpc_list * 1000:>10.2f}ms"
        f"{cli_list * 1000:>10.2f}ms{grpc_list / cli_list:>8.3f}x  <= 0.2x"
    )
    print(
        f"{'load+attach+detach+unload (round trips/s)':<44}{grpc_rate:>12.1f}"
        f"{cli_rate:>12.2f}{grpc_rate / cli_rate:>8.1f}x  >= 5x"
    )


if __name__ == "__main__":
    main()
