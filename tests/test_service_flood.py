"""Connection floods against the service: idle connections by the hundred at the common
fd limit of 1,024, and accept() failing for want of fds. The service's fds and threads
stay bounded, a fresh client is still answered, idle connections are closed, and the
log says each trouble once instead of once per attempt.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import grpc

from bpfman.service.server import WORKERS
from bpfman.serving.relay import EVICT_AFTER, FD_RESERVE, FDS_PER_CONNECTION
from tests.helpers.root import Root
from tests.helpers.service import Service, pb, running_service
from tests.helpers.wait import eventually

EMFILE = "Too many open files"
FLOOD = 420
FD_LIMIT = 1024
PRLIMIT = ["prlimit", f"--nofile={FD_LIMIT}:{FD_LIMIT}", "--"]
SERVICE = [sys.executable, "-m", "bpfman.cli.rpc"]  # the name the units and the operator run


@contextlib.contextmanager
def idle_connections(path: Path, count: int) -> Iterator[list[socket.socket]]:
    """``count`` connections that never send a byte."""
    socks: list[socket.socket] = []
    try:
        for _ in range(count):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            socks.append(s)
            s.connect(str(path))
        yield socks
    finally:
        for s in socks:
            s.close()


def closed_by_peer(sock: socket.socket) -> bool:
    """Whether the service closed it (what gRPC sent first, its SETTINGS, is skipped)."""
    try:
        while sock.recv(65536, socket.MSG_DONTWAIT):
            pass
    except BlockingIOError:
        return False
    except ConnectionResetError:
        pass
    return True


def fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def threads(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/task"))


def fresh_list(svc: Service) -> list[int]:
    with grpc.insecure_channel(f"unix:{svc.socket}") as channel:
        from bpfman.service.bpfman_pb2_grpc import BpfmanStub

        stub = BpfmanStub(channel)  # type: ignore[no-untyped-call]
        response = stub.List(pb.ListRequest(bpfman_programs_only=True), timeout=30)
    return [r.kernel_info.id for r in response.results]


def test_hundreds_of_idle_connections_at_an_fd_limit_of_1024(root: Root) -> None:
    args = ("--connection-idle-timeout", "3")
    with running_service(root.path, *args, prefix=PRLIMIT, command=SERVICE) as svc:
        pid = svc.pid()
        assert fresh_list(svc) == []
        cap = (FD_LIMIT - FD_RESERVE) // FDS_PER_CONNECTION  # what the limit holds
        with idle_connections(svc.socket, FLOOD) as flood:
            # Past the cap the newest are refused (the open ones are not idle a
            # second yet), so the flood never costs more than the cap.
            assert eventually(lambda: sum(map(closed_by_peer, flood)) >= FLOOD - cap, timeout=30)
            assert fds(pid) <= FD_LIMIT - FD_RESERVE // 2, "the flood took the fds loads need"
            assert threads(pid) <= WORKERS + 16, "threads grow with connections"
            # A client arriving once they idled a while takes the place of the one idle longest.
            time.sleep(EVICT_AFTER)
            assert fresh_list(svc) == []
            # Idle connections are closed: every one of the flood sees its end.
            assert eventually(lambda: all(map(closed_by_peer, flood)), timeout=30)
        assert fresh_list(svc) == []
        assert svc.alive()
        logs = svc.logs()
    assert "the limit (--max-connections)" in logs
    assert len(logs.splitlines()) < 20, logs


def lowest_free_fd(pid: int) -> int:
    used = {int(fd) for fd in os.listdir(f"/proc/{pid}/fd")}
    return next(n for n in range(len(used) + 1) if n not in used)


def set_fd_limit(pid: int, limit: int) -> None:
    """The soft limit only: raising a hard limit again takes CAP_SYS_RESOURCE."""
    subprocess.run(["prlimit", f"--pid={pid}", f"--nofile={limit}:"], check=True)


def test_accept_out_of_fds_backs_off_logs_once_and_recovers(root: Root) -> None:
    with running_service(root.path) as svc:
        pid = svc.pid()
        assert fresh_list(svc) == []
        set_fd_limit(pid, lowest_free_fd(pid))  # the next accept() gets EMFILE
        try:
            with idle_connections(svc.socket, 20) as waiting:
                assert eventually(lambda: EMFILE in svc.logs(), timeout=30)
                time.sleep(1)  # a loop spinning on EMFILE would log thousands of lines meanwhile
                assert svc.logs().count(EMFILE) == 1
                set_fd_limit(pid, FD_LIMIT)
                assert eventually(lambda: "accepting connections again" in svc.logs(), timeout=30)
                assert not any(map(closed_by_peer, waiting)), "accepted, not refused"
        finally:
            set_fd_limit(pid, FD_LIMIT)
        assert fresh_list(svc) == []
        logs = svc.logs()
    assert logs.count(EMFILE) == 1, logs
    assert "cannot accept connections on the service socket: [Errno 24]" in logs
    assert logs.count("accepting connections again") == 1, logs
    assert len(logs.splitlines()) < 20, logs
