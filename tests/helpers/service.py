"""The gRPC service as a subprocess on a temporary socket, with a real client."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, cast

import grpc

from bpfman.service import bpfman_pb2 as pb
from bpfman.service import bpfman_pb2_grpc as pb_grpc

REPO = Path(__file__).resolve().parents[2]
SERVICE = [sys.executable, "-m", "bpfman", "system", "service"]
# The VM lane emulates its CPU: a Python start with grpc imported takes tens of seconds.
READY_TIMEOUT = 300.0 if os.environ.get("BPFMAN_IN_VM") == "1" else 20.0

__all__ = ["Service", "pb", "rpc_error", "running_service"]


class Service:
    """A running service process and a client stub connected to it."""

    def __init__(self, proc: subprocess.Popen[bytes], socket: Path, log: Path) -> None:
        self.proc = proc
        self.socket = socket
        self.log = log
        self.channel = grpc.insecure_channel(f"unix:{socket}")
        self.stub = pb_grpc.BpfmanStub(self.channel)  # type: ignore[no-untyped-call]

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while not self.socket.exists():
            if self.proc.poll() is not None:
                raise AssertionError(f"service exited ({self.proc.returncode}):\n{self.logs()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"service socket never appeared:\n{self.logs()}")
            time.sleep(0.05)
        grpc.channel_ready_future(self.channel).result(
            timeout=max(1.0, deadline - time.monotonic())
        )

    def logs(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def pid(self) -> int:
        """The service's own pid (``proc`` may be a wrapper: strace, prlimit)."""
        found = re.search(r"starting \(pid (\d+)", self.logs())
        assert found, self.logs()
        return int(found.group(1))

    def alive(self) -> bool:
        return self.proc.poll() is None

    def terminate(self, timeout: float = 30.0) -> int:
        """SIGTERM, then the exit status (SIGKILL if it does not stop in time)."""
        self.channel.close()
        if self.proc.poll() is None:
            self._signal_group(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                self.proc.wait()
        # a wrapper (strace) may leave the service itself behind: never leak it
        self._signal_group(signal.SIGKILL)
        return self.proc.returncode

    def _signal_group(self, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signum)


@contextlib.contextmanager
def running_service(
    root: Path,
    *args: str,
    prefix: Sequence[str] = (),
    command: Sequence[str] = SERVICE,
    env: dict[str, str] | None = None,
    ready: bool = True,
    socket: Path | None = None,
) -> Iterator[Service]:
    """``bpfman system service`` on ``socket`` (default: in a fresh directory), stopped on exit."""
    workdir = Path(tempfile.mkdtemp(prefix="bpfman-svc-"))
    socket = socket or workdir / "sock" / "bpfman.sock"
    log = workdir / "service.log"
    full_env = {**os.environ, "BPFMAN_ROOT": str(root), **(env or {})}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*prefix, *command, "--socket-path", str(socket), "--timeout", "0", *args],
            env=full_env,
            cwd=REPO,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: terminate() reaches wrappers' children
        )
    service = Service(proc, socket, log)
    try:
        if ready:
            service.wait_ready()
        yield service
    finally:
        service.terminate()
        shutil.rmtree(workdir, ignore_errors=True)


def file_load(
    path: Path | str,
    *programs: tuple[int, str],
    globals_: dict[str, bytes] | None = None,
    metadata: dict[str, str] | None = None,
    map_owner_id: int | None = None,
) -> pb.LoadRequest:
    """A LoadRequest for ``(BpfmanProgramType, function)`` pairs of a local object."""
    request = pb.LoadRequest(
        bytecode=pb.BytecodeLocation(file=str(path)),
        info=[pb.LoadInfo(name=name, program_type=cast(Any, ptype)) for ptype, name in programs],
        global_data=globals_ or {},
        metadata=metadata or {},
    )
    if map_owner_id is not None:
        request.map_owner_id = map_owner_id
    return request


def rpc_error(call: Callable[[], object]) -> grpc.RpcError:
    """The error a call must end with."""
    try:
        call()
    except grpc.RpcError as exc:
        return exc
    raise AssertionError("the call succeeded")
