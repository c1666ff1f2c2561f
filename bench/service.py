"""The gRPC service against the CLI, on the same root and the same programs.

- ``List`` (bpfman's programs) with 100 programs loaded, against
  ``bpfman list programs``: median wall time per call; target <= 0.2x.
- load + attach (tracepoint) + detach + unload round trips per second through
  gRPC, against the same four steps as four CLI commands; target >= 5x.
- ``List`` while a stopped writer holds the state's writers' lock and 20 Loads
  wait for it, against ``List`` unloaded; target <= 2x.
- the service's fds and threads with 400 idle connections open, at the common
  fd limit of 1,024 (the service runs under it throughout); target: bounded by
  the connection cap, and ``List`` from a fresh client still answers.
- issue 17's two figures, from the modules that measure them (each also runs
  alone): the container's cold start to its first answered request, against
  the service started on the host (bench/container.py; needs ``make image``,
  skipped with a line saying so without it), and a CSI publish against a plain
  bpffs pin of the same maps (bench/csi.py).

The service is a subprocess on a temporary socket; the client runs here, so a
gRPC figure includes the client's serialisation and the socket.

    python -m bench.service [--runs N] [--cycles N] [--starts N] [--publishes N]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import grpc

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench import container, csi  # noqa: E402
from bench.cli_latency import BPFMAN, unload_all  # noqa: E402
from bench.metrics import load_programs  # noqa: E402
from tests.helpers.build import bpf_object  # noqa: E402
from tests.helpers.service import Service, file_load, pb, running_service  # noqa: E402

TRACEPOINT = "syscalls/sys_enter_getppid"
FD_LIMIT = 1024
IDLE = 400
WAITING = 20


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


@contextlib.contextmanager
def stopped_writer(root: Path) -> Iterator[None]:
    """A writer holding the state's writers' lock, as a stopped ``bpfman load`` would."""
    from bpfman.core.bpffs import Layout

    lock = Layout(root).lock
    proc = subprocess.Popen(["flock", "--exclusive", "--no-fork", str(lock), "sleep", "600"])
    try:
        while subprocess.run(["flock", "--nonblock", str(lock), "true"]).returncode == 0:
            time.sleep(0.01)
        yield
    finally:
        proc.kill()
        proc.wait()


def list_behind_a_writer(svc: Service, root: Path, obj: Path, runs: int) -> float:
    """Median List while WAITING Loads wait for a stopped writer (they never start)."""
    request = pb.ListRequest(bpfman_programs_only=True)
    load = file_load(obj, (pb.TRACEPOINT, "tracepoint_counter"))
    with stopped_writer(root):
        waiting = [svc.stub.Load.future(load, timeout=600) for _ in range(WAITING)]
        time.sleep(0.5)  # they have all reached the service
        try:
            return timed(lambda: svc.stub.List(request, timeout=30), runs)
        finally:
            for call in waiting:
                call.cancel()  # a cancelled mutation that never took the lock never starts


def counts(pid: int) -> tuple[int, int]:
    return len(os.listdir(f"/proc/{pid}/fd")), len(os.listdir(f"/proc/{pid}/task"))


def with_idle_connections(svc: Service) -> tuple[int, int, float]:
    """fds, threads and a fresh client's List time with IDLE idle connections open."""
    from bpfman.service.bpfman_pb2_grpc import BpfmanStub
    from bpfman.serving.relay import EVICT_AFTER

    socks = []
    try:
        for _ in range(IDLE):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            socks.append(s)
            s.connect(str(svc.socket))
        time.sleep(EVICT_AFTER + 0.5)  # idle long enough to give way to a new client
        fds, threads = counts(svc.pid())
        with grpc.insecure_channel(f"unix:{svc.socket}") as channel:
            stub = BpfmanStub(channel)  # type: ignore[no-untyped-call]
            start = time.perf_counter()
            stub.List(pb.ListRequest(bpfman_programs_only=True), timeout=30)
            elapsed = time.perf_counter() - start
        return fds, threads, elapsed
    finally:
        for s in socks:
            s.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--cycles", type=int, default=20)
    parser.add_argument("--starts", type=int, default=5, help="cold starts (bench.container)")
    parser.add_argument("--publishes", type=int, default=51, help="CSI publishes (bench.csi)")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bpfman-bench-svc-"))
    env = {**os.environ, "BPFMAN_ROOT": str(root)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # users have bytecode caches
    obj = bpf_object("tracepoint_counter")
    try:
        limit = ["prlimit", f"--nofile={FD_LIMIT}:{FD_LIMIT}", "--"]
        with running_service(root, prefix=limit) as svc:
            grpc_rate = rate(lambda: grpc_cycle(svc, obj), args.cycles)
            cli_rate = rate(lambda: cli_cycle(env, obj), max(3, args.cycles // 4))
            load_programs(root, 100)
            request = pb.ListRequest(bpfman_programs_only=True)
            assert len(svc.stub.List(request).results) == 100
            grpc_list = timed(lambda: svc.stub.List(request), args.runs)
            cli_list = timed(lambda: cli(env, "list", "programs"), args.runs)
            stalled_list = list_behind_a_writer(svc, root, obj, args.runs)
            assert len(svc.stub.List(request).results) == 100, "a waiting Load started"
            base_fds, base_threads = counts(svc.pid())
            fds, threads, fresh = with_idle_connections(svc)
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
    from bpfman.serving.relay import FD_RESERVE, FDS_PER_CONNECTION, Limits

    print(
        f"\n{'List, writer stopped, 20 Loads waiting':<44}{stalled_list * 1000:>10.2f}ms"
        f"{grpc_list * 1000:>10.2f}ms{stalled_list / grpc_list:>8.2f}x  <= 2x (vs unloaded)"
    )
    cap = min(Limits().max_connections, (FD_LIMIT - FD_RESERVE) // FDS_PER_CONNECTION)
    print(
        f"{f'{IDLE} idle connections, fd limit {FD_LIMIT}':<44}fds {base_fds} -> {fds}"
        f" (bound {base_fds + FDS_PER_CONNECTION * cap}), threads {base_threads} -> {threads},"
        f" a fresh List {fresh * 1000:.1f} ms"
    )
    print()
    if container.image_built():
        print(container.report(*container.measure(args.starts)))
    else:
        print(f"container cold start: skipped, no image {container.IMAGE} (make image)")
    print()
    print(csi.report(*csi.measure(args.publishes)))


if __name__ == "__main__":
    main()
