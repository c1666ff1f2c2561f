"""A child process a test drives line by line, so it decides exactly when probes fire.

The child runs a Python script that acts once per line it reads on stdin and answers
``done``; the test writes a line (:meth:`Poked.poke`) and waits for the answer.
"""

from __future__ import annotations

import subprocess
import sys


class Poked:
    """``python -c SCRIPT ARGS...``, acting once per :meth:`poke`."""

    def __init__(self, script: str, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", script, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.pid = self.proc.pid

    def poke(self) -> None:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()
        assert self.proc.stdout.readline().strip() == "done"

    def close(self) -> None:
        """End the child (its stdin closes) and reap it; idempotent."""
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
