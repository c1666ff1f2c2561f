"""A gRPC client in bpfman-agent's place: another user, reaching the socket by its group.

In bpfman-operator's pod the agent is a separate container that shares the socket's
``emptyDir`` volume with bpfman and reaches it through the pod's ``fsGroup`` (2000),
not as root. :class:`Agent` is a process with those credentials (``setpriv``) that
relays the test's requests to the service, one at a time: the test builds requests
with the committed stubs, reads the answers as messages, and checks the kernel from
outside between calls, as a real agent's reconcile loop would leave it.

The relay speaks one JSON line per call on stdin/stdout: ``{"method", "request"}``
(the serialised request, hex) in, ``{"response"}`` or ``{"code", "details"}`` out.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import TypeVar

from google.protobuf.message import Message

from tests.helpers.service import pb

REPO = Path(__file__).resolve().parents[2]
AGENT_UID = 65534
POD_FS_GROUP = 2000
# The venv's interpreter may sit under root's private home: the agent runs the system
# one with the venv's packages on its path (the same Python version on Debian 12).
SYSTEM_PYTHON = "/usr/bin/python3"

M = TypeVar("M", bound=Message)

__all__ = ["AGENT_UID", "POD_FS_GROUP", "Agent", "AgentError"]


class AgentError(Exception):
    """A call the service answered with a status other than OK."""

    def __init__(self, code: str, details: str) -> None:
        super().__init__(f"{code}: {details}")
        self.code = code
        self.details = details


class Agent:
    """A relay process running as ``uid``/``gid`` (no other groups), connected to ``socket``."""

    def __init__(self, socket: Path, uid: int = AGENT_UID, gid: int = POD_FS_GROUP) -> None:
        paths = [str(REPO), sysconfig.get_path("purelib"), sysconfig.get_path("platlib")]
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": os.pathsep.join(dict.fromkeys(paths)),
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        as_agent = ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "--"]
        self.proc = subprocess.Popen(
            [*as_agent, SYSTEM_PYTHON, "-m", "tests.helpers.agent", str(socket)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            cwd="/",
            text=True,
        )

    def call(self, method: str, request: Message, answer: type[M]) -> M:
        """``method`` with ``request``; the answer parsed as ``answer``, or AgentError."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        line = {"method": method, "request": request.SerializeToString().hex()}
        self.proc.stdin.write(json.dumps(line) + "\n")
        self.proc.stdin.flush()
        reply = self.proc.stdout.readline()
        if not reply:
            raise AssertionError(f"the agent's relay exited ({self.proc.wait()})")
        result = json.loads(reply)
        if "code" in result:
            raise AgentError(result["code"], result["details"])
        return answer.FromString(bytes.fromhex(result["response"]))

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()

    def __enter__(self) -> Agent:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _relay(socket: str) -> None:
    """The agent's side: each request line becomes one call on the service's socket."""
    import grpc

    from bpfman.service import bpfman_pb2_grpc

    with grpc.insecure_channel(f"unix:{socket}") as channel:
        stub = bpfman_pb2_grpc.BpfmanStub(channel)  # type: ignore[no-untyped-call]
        for line in sys.stdin:
            call = json.loads(line)
            request_type = getattr(pb, f"{call['method']}Request")
            request = request_type.FromString(bytes.fromhex(call["request"]))
            try:
                response = getattr(stub, call["method"])(request, timeout=60)
                result = {"response": response.SerializeToString().hex()}
            except grpc.RpcError as exc:
                result = {"code": exc.code().name, "details": exc.details()}
            print(json.dumps(result), flush=True)


if __name__ == "__main__":
    _relay(sys.argv[1])
