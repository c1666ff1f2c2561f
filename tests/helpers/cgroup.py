"""Throwaway cgroup v2 directories, and processes that act from inside one.

A socket belongs to the cgroup of the task that created it, so the traffic a
cgroup program sees comes from a child process that first moves itself into the
cgroup, then opens its socket and sends. The child reports back on stdout.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from bpfman.plugins.cgroup.cgroupfs import cgroup2_mounts

# Runs in the child: join the cgroup, then send (or connect) and count refusals.
_CHILD = r"""
import json, os, socket, sys
cgroup, port, count, mode = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
with open(os.path.join(cgroup, "cgroup.procs"), "w") as f:
    f.write(str(os.getpid()))
denied = 0
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for seq in range(count):
    try:
        if mode == "connect":
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as other:
                other.connect(("127.0.0.1", port))
        else:
            sock.sendto(b"bpfman-test %d" % seq, ("127.0.0.1", port))
    except PermissionError:
        denied += 1
print(json.dumps({"denied": denied}))
"""


def cgroup_root() -> Path:
    """Where cgroup v2 is mounted (this machine: /sys/fs/cgroup/unified)."""
    mounts = cgroup2_mounts()
    if not mounts:
        raise AssertionError("cgroup v2 is not mounted")
    return Path(min(mounts, key=len))


class Cgroup:
    """A fresh cgroup v2 directory, removed (with any process left in it) on close."""

    def __init__(self) -> None:
        self.path = cgroup_root() / f"bpfman-test-{secrets.token_hex(4)}"
        self.path.mkdir()

    def __enter__(self) -> Cgroup:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def run(self, port: int, count: int, mode: str = "send") -> dict[str, Any]:
        """A child joins the cgroup and sends count UDP datagrams to 127.0.0.1:port
        (or, mode "connect", connects count UDP sockets there); returns its report."""
        proc = subprocess.run(
            [sys.executable, "-c", _CHILD, str(self.path), str(port), str(count), mode],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if proc.returncode != 0:
            raise AssertionError(f"cgroup child failed ({proc.returncode}):\n{proc.stderr}")
        report: dict[str, Any] = json.loads(proc.stdout)
        return report

    def close(self) -> None:
        if not self.path.exists():
            return
        kill = self.path / "cgroup.kill"
        if kill.exists():
            with contextlib.suppress(OSError):
                kill.write_text("1")
        for _ in range(100):
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError(f"cannot remove cgroup {self.path}")
