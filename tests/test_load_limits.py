"""``load file`` and ``list`` at the edges: few file descriptors, bytecode that is no file.

At a low ``ulimit -n`` every command either works or says, in one line, that
the process ran out of file descriptors -- never a verifier message, a
corrupt store or an internal error -- and leaves nothing half-done.
"""

from __future__ import annotations

import os
import resource
import socket
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers.consistency import kernel_programs, problems
from tests.helpers.root import BPFMAN, REPO, Root

NAMES = {"tracepoint_counter"}


def limited(n: int) -> Callable[[], None]:
    return lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (n, n))


def test_low_fd_limits_work_or_name_the_limit(root: Root, objects: Path) -> None:
    before = set(kernel_programs(NAMES))
    load = ["load", "file", "-p", str(objects / "tracepoint_counter.bpf.o"),
            "--programs", "tracepoint:tracepoint_counter"]  # fmt: skip
    outcomes: dict[str, list[int]] = {"load": [], "list": []}
    for n in range(6, 21):
        for name, args in (("load", load), ("list", ["list", "programs"])):
            proc = subprocess.run(
                [*BPFMAN, *args], env=root.env, cwd=REPO, capture_output=True, text=True,
                preexec_fn=limited(n),
            )  # fmt: skip
            if proc.returncode == 0:
                outcomes[name].append(n)
                continue
            lines = proc.stderr.strip().splitlines()
            assert len(lines) == 1, f"ulimit -n {n}, {name}:\n{proc.stderr}"
            assert "ran out of file descriptors" in lines[0], f"ulimit -n {n}, {name}: {lines[0]}"
            assert f"ulimit -n is {n}" in lines[0], lines[0]
            assert problems(root.path, [], NAMES, before) == [], f"ulimit -n {n}, {name}"
    # Each limit that let a load through loaded exactly one program; higher ones all work.
    assert len(root.json("list", "programs")) == len(outcomes["load"])
    assert outcomes["load"][-1] == 20 and outcomes["list"][-1] == 20
    assert outcomes["load"] == list(range(outcomes["load"][0], 21))
    assert problems(root.path, [], NAMES, before) == []


@pytest.fixture
def odd_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """Bytecode paths that are no regular file, and what each is called."""
    fifo = tmp_path / "fifo.o"
    os.mkfifo(fifo)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(tmp_path / "sock.o"))
    sock.close()
    (tmp_path / "dir.o").mkdir()
    os.mknod(tmp_path / "blk.o", stat.S_IFBLK | 0o600, os.makedev(7, 0))  # a loop device's numbers
    return {
        "zero": (Path("/dev/zero"), "a character device"),
        "fifo": (fifo, "a FIFO"),
        "socket": (tmp_path / "sock.o", "a socket"),
        "directory": (tmp_path / "dir.o", "a directory"),
        "block": (tmp_path / "blk.o", "a block device"),
    }


@pytest.mark.parametrize("kind", ["zero", "fifo", "socket", "directory", "block"])
def test_bytecode_that_is_not_a_regular_file_is_named_and_never_read(
    root: Root, odd_files: dict[str, tuple[Path, str]], kind: str
) -> None:
    path, what = odd_files[kind]
    proc = subprocess.run(
        [*BPFMAN, "load", "file", "-p", str(path), "--programs", "tracepoint:tracepoint_counter"],
        env=root.env, cwd=REPO, capture_output=True, text=True, timeout=60,  # a FIFO would hang
    )  # fmt: skip
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() == (
        f"Error: bytecode file {path} is not a regular file: it is {what}"
    )
    assert root.fail("load", "file", "-p", f"{path}-missing", "--programs", "tracepoint:x") == (
        f"Error: bytecode file {path}-missing not found"
    )
