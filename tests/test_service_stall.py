"""Lock stalls with concurrent readers and deadlines.

A CLI writer stopped while it holds the state's writers' lock (``flock`` on the same
file, as a stopped ``bpfman load`` would hold it): List and Get still answer within
their deadline, mutations wait only as long as their callers do and never start late,
and one retried with a request id gets the first one's result instead of running twice.
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc

from bpfman.core.bpffs import Layout
from bpfman.service.admission import REQUEST_ID
from bpfman.service.server import MUTATION_SLOTS
from tests.helpers.root import Root
from tests.helpers.service import Service, file_load, pb, rpc_error, running_service
from tests.helpers.wait import eventually

DEADLINE = 2.0
READ_DEADLINE = 5.0
REFUSED = 6  # beyond the mutations that may wait


def held(lock: Path) -> bool:
    return subprocess.run(["flock", "--nonblock", str(lock), "true"]).returncode != 0


@contextlib.contextmanager
def stalled_writer(root: Path) -> Iterator[None]:
    """A writer that took the state's writers' lock and stopped."""
    lock = Layout(root).lock
    proc = subprocess.Popen(["flock", "--exclusive", "--no-fork", str(lock), "sleep", "600"])
    try:
        assert eventually(lambda: held(lock), timeout=10)
        yield
    finally:
        proc.kill()
        proc.wait()


def managed(svc: Service) -> list[int]:
    listed = svc.stub.List(pb.ListRequest(bpfman_programs_only=True), timeout=READ_DEADLINE)
    return [r.kernel_info.id for r in listed.results]


def pins(root: Root) -> list[str]:
    return sorted(p.name for p in (root.path / "fs").glob("prog_*"))


def tracepoint_load(objects: Path) -> pb.LoadRequest:
    return file_load(objects / "tracepoint_counter.bpf.o", (pb.TRACEPOINT, "tracepoint_counter"))


def test_reads_answer_and_late_mutations_never_start_behind_a_stalled_writer(
    root: Root, objects: Path
) -> None:
    request = tracepoint_load(objects)
    with running_service(root.path) as svc:
        [first] = svc.stub.Load(request).programs
        prog_id = first.kernel_info.id
        with stalled_writer(root.path):
            loads = [
                svc.stub.Load.future(request, timeout=DEADLINE)
                for _ in range(MUTATION_SLOTS + REFUSED)
            ]
            # Reads never queue behind writes.
            assert managed(svc) == [prog_id]
            got = svc.stub.Get(pb.GetRequest(id=prog_id), timeout=READ_DEADLINE)
            assert got.kernel_info.id == prog_id and got.info.name == "tracepoint_counter"
            codes = [future.exception().code() for future in loads]
            assert codes.count(grpc.StatusCode.RESOURCE_EXHAUSTED) == REFUSED, codes
            assert codes.count(grpc.StatusCode.DEADLINE_EXCEEDED) == MUTATION_SLOTS, codes
            # The service gave up each one before it started.
            assert eventually(lambda: svc.logs().count("not started") == len(loads), timeout=30)
        # The writer has gone: none of them runs now.
        assert managed(svc) == [prog_id]
        assert pins(root) == [f"prog_{prog_id}"]
        svc.stub.Unload(pb.UnloadRequest(id=prog_id))
        assert "Traceback" not in svc.logs()


def test_a_mutation_whose_client_went_away_is_not_started(root: Root, objects: Path) -> None:
    request = tracepoint_load(objects)
    with running_service(root.path) as svc:
        [first] = svc.stub.Load(request).programs
        with stalled_writer(root.path):
            call: Any = svc.stub.Load.future(request)  # no deadline: it would wait for ever
            arrived = "[tracepoint:tracepoint_counter]"  # the line logged when a Load arrives
            assert eventually(lambda: svc.logs().count(arrived) == 2, timeout=30)
            call.cancel()
            assert eventually(lambda: "the client went away: not started" in svc.logs(), 30)
        assert managed(svc) == [first.kernel_info.id]
        assert pins(root) == [f"prog_{first.kernel_info.id}"]
        svc.stub.Unload(pb.UnloadRequest(id=first.kernel_info.id))


# Every write to the state store (LMDB writes pages with pwrite64) is slowed down: a
# Load takes longer than its deadline once it has started (the lock is free, and it
# writes only after taking it), while reads, which never write, are not slowed.
SLOW = ["strace", "-f", "-qq", "-o", "/dev/null", "--seccomp-bpf", "-e", "trace=pwrite64",
        "-e", "inject=pwrite64:delay_enter=1000000"]  # fmt: skip


def test_a_retry_with_the_request_id_gets_the_first_result(root: Root, objects: Path) -> None:
    request = tracepoint_load(objects)
    meta = ((REQUEST_ID, "agent-7d1c0f9a-load-1"),)
    with running_service(root.path, prefix=SLOW) as svc:
        first = rpc_error(lambda: svc.stub.Load(request, metadata=meta, timeout=1.0))
        assert first.code() == grpc.StatusCode.DEADLINE_EXCEEDED
        # It had started, so it goes on; the retry waits for it and gets its answer.
        [again] = svc.stub.Load(request, metadata=meta, timeout=120).programs
        prog_id = again.kernel_info.id
        assert managed(svc) == [prog_id]
        # Sent once more after it completed: the same answer, from memory.
        [third] = svc.stub.Load(request, metadata=meta, timeout=120).programs
        assert third == again
        assert managed(svc) == [prog_id]
        assert pins(root) == [f"prog_{prog_id}"]
        # The id names that request: another one is refused, and nothing runs.
        other = file_load(
            objects / "tracepoint_counter.bpf.o",
            (pb.TRACEPOINT, "tracepoint_counter"),
            metadata={"bpfman.io/ProgramName": "other"},
        )
        refused = rpc_error(lambda: svc.stub.Load(other, metadata=meta, timeout=120))
        assert refused.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert f"{REQUEST_ID} 'agent-7d1c0f9a-load-1' was already used" in (refused.details() or "")
        assert managed(svc) == [prog_id]
        # An unload with its own id is also answered once.
        unload = ((REQUEST_ID, "agent-7d1c0f9a-unload-1"),)
        svc.stub.Unload(pb.UnloadRequest(id=prog_id), metadata=unload, timeout=120)
        svc.stub.Unload(pb.UnloadRequest(id=prog_id), metadata=unload, timeout=120)
        assert managed(svc) == []
        logs = svc.logs()
    assert "not started" not in logs, "the first Load was to start before its deadline"
    assert logs.count("done before: answering its response") == 3, logs
