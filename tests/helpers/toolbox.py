"""Helpers of the toolbox tests: loading programs through the CLI, and bpfman
commands that run until interrupted (tracelog, metrics, stats --enable)."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Any

from tests.helpers.root import BPFMAN, REPO, Root

# An Ethernet frame of EtherType 0x88b5 (the toolbox programs' own) with a payload.
DST_MAC = bytes.fromhex("02000000aa01")
SRC_MAC = bytes.fromhex("02000000bb02")
FRAME = DST_MAC + SRC_MAC + bytes.fromhex("88b5") + b"bpfman toolbox test frame"
OTHER_FRAME = DST_MAC + SRC_MAC + bytes.fromhex("0800") + bytes(40)  # IPv4 EtherType


def load_program(root: Root, obj: Path, spec: str, *extra: str) -> int:
    """Load one program with ``bpfman load file``; return its id."""
    loaded: Any = root.json("load", "file", "-p", obj, "--programs", spec, *extra)
    return int(loaded[0]["id"])


class Background:
    """A bpfman command running until interrupted, with its output readable line
    by line; always stopped (SIGINT, then SIGKILL) when the block ends."""

    def __init__(self, root: Root, *args: str | int) -> None:
        # Buffered like a user's pipe: the command must flush what callers wait for.
        env = {k: v for k, v in root.env.items() if k != "PYTHONUNBUFFERED"}
        self.proc = subprocess.Popen(
            [*BPFMAN, *map(str, args)],
            env=env,
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self._buffer = b""

    def readline(self, timeout: float = 10.0) -> str:
        """The next stdout line; AssertionError if none comes in time."""
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            ready = select.select([self.proc.stdout], [], [], max(left, 0))[0]
            if not ready:
                raise AssertionError(f"no output line within {timeout} s: {self._buffer!r}")
            chunk = os.read(self.proc.stdout.fileno(), 65536)
            if not chunk:
                raise AssertionError(f"output ended ({self.stop()})")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.decode(errors="replace")

    def wait_for(self, text: str, timeout: float = 10.0) -> str:
        """Read lines until one contains ``text``; return it."""
        deadline = time.monotonic() + timeout
        while True:
            line = self.readline(max(deadline - time.monotonic(), 0.01))
            if text in line:
                return line

    def finish(self, timeout: float) -> tuple[int, str, str]:
        """Wait for the command to end by itself: exit status, stdout left, stderr."""
        out, err = self.proc.communicate(timeout=timeout)
        rest, self._buffer = self._buffer + out, b""
        return self.proc.returncode, rest.decode(errors="replace"), err.decode(errors="replace")

    def stop(self, sig: int = signal.SIGINT, timeout: float = 10.0) -> tuple[int, str]:
        """Send ``sig`` (Ctrl-C by default); return the exit status and stderr."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            _, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, err = self.proc.communicate()
        return self.proc.returncode, err.decode(errors="replace")

    def __enter__(self) -> Background:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.proc.poll() is None:
            self.stop()
