"""A writer stopped (SIGSTOP) while it holds the state lock.

Other writers wait for it: after a second each says once, on stderr, which
process it waits for; ``--lock-timeout`` (or ``BPFMAN_LOCK_TIMEOUT``, or the
library's ``lock_timeout``) ends the wait with one line and exit status 10,
having changed nothing. Readers never wait: ``list`` and ``get`` answer while
the holder is stopped, and Ctrl-C ends a wait as it ends anything.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import pytest

from bpfman.core.manager import Bpfman
from bpfman.errors import LockTimeoutError
from tests.helpers.root import BPFMAN, REPO, Root, load_counter
from tests.helpers.wait import eventually

LOCK_TIMEOUT_EXIT = 10
# A writer's part without the kernel: take the lock, say so, stop until SIGCONT.
HOLDER = """
import os, signal, sys
from pathlib import Path
from bpfman.core.bpffs import Layout
from bpfman.core.state import Store
store = Store(Layout(Path(sys.argv[1])).db)
with store.locked():
    print("locked", flush=True)
    os.kill(os.getpid(), signal.SIGSTOP)
"""


def _state(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]


@pytest.fixture
def prog(root: Root, objects: Path) -> int:
    """A program loaded before the holder takes the lock."""
    return load_counter(root, objects)


@pytest.fixture
def holder(root: Root, prog: int) -> Iterator[subprocess.Popen[str]]:
    """A process that holds the root's state lock, stopped; resumed and reaped at the end."""
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(root.path)], cwd=REPO, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "locked\n"
        assert eventually(lambda: _state(proc.pid) == "T")
        yield proc
    finally:
        os.kill(proc.pid, signal.SIGCONT)
        proc.wait(timeout=30)


def _line(stream: IO[str] | None, timeout: float = 30.0) -> str:
    """The next line of a child's pipe, or "" if none comes in time (never a hang)."""
    assert stream is not None
    ready, _, _ = select.select([stream], [], [], timeout)
    return stream.readline() if ready else ""


def test_waiting_writers_name_the_stopped_holder_and_readers_answer(
    root: Root, prog: int, holder: subprocess.Popen[str]
) -> None:
    who = f"held by pid {holder.pid} (stopped): {sys.executable} -c"
    writer = subprocess.Popen(
        [*BPFMAN, "unload", str(prog)], env=root.env, cwd=REPO, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        notice = _line(writer.stderr)
        assert notice.startswith(f"waiting for bpfman's state lock, {who}"), notice
        # Readers answer meanwhile, and see the program the writer waits to unload.
        assert [p["id"] for p in root.json("list", "programs")] == [prog]
        assert root.json("get", "program", prog)["id"] == prog
        # Ctrl-C ends a wait like anything else.
        quitter = subprocess.Popen(
            [*BPFMAN, "detach", "7"], env=root.env, cwd=REPO, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        assert _line(quitter.stderr).startswith("waiting for bpfman's state lock")
        quitter.send_signal(signal.SIGINT)
        _, rest = quitter.communicate(timeout=30)
        assert (quitter.returncode, rest) == (130, "Error: interrupted\n")
        assert writer.poll() is None
    finally:
        os.kill(holder.pid, signal.SIGCONT)
        _, err = writer.communicate(timeout=60)
    assert writer.returncode == 0, err
    assert err == ""  # the notice came once
    assert root.json("list", "programs") == []


@pytest.mark.usefixtures("holder")
def test_lock_timeout_ends_the_wait_with_one_line(root: Root, objects: Path, prog: int) -> None:
    """Tried from every place the timeout can be given; each gives up and changes nothing."""
    lock = root.path / "db" / "writer.lock"
    obj = objects / "tracepoint_counter.bpf.o"
    load = ["load", "file", "-p", obj, "--programs", "tracepoint:tracepoint_counter"]
    cases: list[tuple[list[object], dict[str, str], str]] = [
        (["--lock-timeout", "2", "unload", prog], {}, "2"),  # waits past the 1 s notice
        ([*load, "--lock-timeout", "0.5"], {}, "0.5"),  # the fast path, after the command
        (["--lock-timeout", "0.5", *load], {}, "0.5"),  # the fast path, before it
        (["unload", prog, "--lock-timeout", "0.5"], {}, "0.5"),
        (["detach", "7"], {"BPFMAN_LOCK_TIMEOUT": "0.5"}, "0.5"),
        (load, {"BPFMAN_LOCK_TIMEOUT": "0.5"}, "0.5"),
    ]
    for args, env, seconds in cases:
        proc = subprocess.run(
            [*BPFMAN, *map(str, args)], env={**root.env, **env}, cwd=REPO,
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert proc.returncode == LOCK_TIMEOUT_EXIT, (args, env, proc)
        *notices, line = proc.stderr.splitlines()
        assert line.startswith(
            f"Error: gave up after {seconds} s waiting for bpfman's state lock {lock}, held by pid "
        ), (args, line)
        assert line.endswith("; try again later, or wait longer (--lock-timeout)")
        assert len(notices) == (seconds == "2"), proc.stderr  # the notice after 1 s
    with Bpfman(root.path, lock_timeout=0.2) as mgr, pytest.raises(LockTimeoutError):
        mgr.load_file(obj, ["tracepoint:tracepoint_counter"])
    assert [p["id"] for p in root.json("list", "programs")] == [prog]
