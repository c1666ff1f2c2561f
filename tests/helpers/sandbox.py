"""A shell whose changes to the machine's files vanish with it: commands as a newcomer types them.

The shell runs in a private mount namespace in which ``/usr/local`` is an empty
tmpfs and ``/etc``, ``/run`` and root's home are overlays whose writes land in a
scratch directory: ``make install`` (its virtualenv, the links in /usr/local/bin, the
group systemd-sysusers adds), bpfman's default root ``/run/bpfman``, ``ip netns``
entries and pip's cache are the sandbox's alone, and its mounts (bpffs, netns) go
when the shell ends, taking their programs and namespaces with them. The kernel and
the network are shared: what a command attaches or creates there is visible from
outside while the shell lives.

``sudo`` is a stand-in on the shell's PATH that does what Debian's sudo does for
root (``env_reset``, ``secure_path``), so a line written ``sudo bpfman ...`` finds
bpfman where sudo would, on a machine without sudo as on one with it.
"""

from __future__ import annotations

import contextlib
import os
import queue
import secrets
import signal
import subprocess
import threading
import time
from pathlib import Path

# Debian's /etc/sudoers: Defaults secure_path=...
SECURE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# What a user's login shell has on Debian (/etc/profile), the sandbox's shim first.
USER_PATH = "/usr/local/bin:/usr/bin:/bin"

SUDO = f"""#!/bin/sh
# sudo as root on Debian: a fresh environment (env_reset) with secure_path.
case "$1" in -*) echo "sandbox sudo: no options ($1)" >&2; exit 1;; esac
exec env -i PATH={SECURE_PATH} HOME=/root LOGNAME=root USER=root SHELL=/bin/bash \\
    TERM="${{TERM:-dumb}}" SUDO_USER=root SUDO_UID=0 SUDO_GID=0 "$@"
"""

# Overlaid directories: the machine's content, the sandbox's writes.
OVERLAID = ("/etc", "/run", "/root")


class Step:
    """What one command printed (stdout and stderr together) and its exit status."""

    def __init__(self, command: str, status: int, output: str) -> None:
        self.command = command
        self.status = status
        self.output = output

    def __repr__(self) -> str:
        return f"$ {self.command}\n{self.output}(exit status {self.status})"


class Sandbox:
    """One bash in a private mount namespace; ``run`` feeds it a command at a time.

    Shell state (variables, the working directory) carries over from one command to
    the next, as in a terminal. ``close`` ends the shell and its namespace.
    """

    def __init__(self, scratch: Path, cwd: Path) -> None:
        self.scratch = scratch
        shim = scratch / "bin"
        shim.mkdir(parents=True)
        (shim / "sudo").write_text(SUDO)
        (shim / "sudo").chmod(0o755)
        env = {"PATH": f"{shim}:{USER_PATH}", "HOME": "/root", "LANG": "C.UTF-8"}
        self.proc = subprocess.Popen(
            ["unshare", "--mount", "--propagation", "private", "bash", "--noprofile", "--norc"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            cwd=cwd, env=env, text=True, start_new_session=True,
        )  # fmt: skip
        self.lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        try:
            self.check(self._mounts(), timeout=30)
        except BaseException:
            self.close()
            raise

    @property
    def pid(self) -> int:
        """The shell's pid: ``/proc/PID/root`` shows the files as the sandbox sees them."""
        return self.proc.pid

    def _mounts(self) -> str:
        commands = ["mount -t tmpfs -o mode=0755 sandbox /usr/local"]
        for n, lower in enumerate(OVERLAID):
            upper, work = self.scratch / f"upper{n}", self.scratch / f"work{n}"
            upper.mkdir()
            work.mkdir()
            commands.append(
                f"mount -t overlay sandbox -o lowerdir={lower},upperdir={upper},"
                f"workdir={work} {lower}"
            )
        return " && ".join(commands)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def run(self, command: str, timeout: float) -> Step:
        """Run ``command`` in the shell (stdin from /dev/null) and wait for its status."""
        assert self.proc.stdin is not None
        marker = f"@@sandbox-{secrets.token_hex(8)}@@"
        self.proc.stdin.write(f"{{\n{command}\n}} </dev/null\nprintf '\\n{marker} %d\\n' $?\n")
        self.proc.stdin.flush()
        deadline = time.monotonic() + timeout
        output: list[str] = []
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(
                    f"$ {command}\n{''.join(output)}(still running after {timeout:.0f} s)"
                ) from None
            if line is None:
                raise AssertionError(f"$ {command}\n{''.join(output)}(the shell ended)")
            if line.startswith(marker):
                text = "".join(output)
                return Step(command, int(line.split()[1]), text.removesuffix("\n"))
            output.append(line)

    def check(self, command: str, timeout: float = 60) -> Step:
        """``run``, which must succeed."""
        step = self.run(command, timeout)
        assert step.status == 0, step
        return step

    def close(self) -> None:
        """End the shell, and with it the namespace and everything mounted in it."""
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            try:
                self.proc.stdin.close()
                self.proc.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        # a command left in the background would keep the namespace alive
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
