"""What a waiting writer reads about the lock's holder, whatever the lock file holds
(pure logic on a temporary file), and the lock timeout's accepted values."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from bpfman.cli.app import lock_timeout
from bpfman.cli.fast import run
from bpfman.core.state import _holder, _record_holder, _start_time
from bpfman.errors import InvalidInputError


@pytest.fixture
def lock(tmp_path: Path) -> Iterator[int]:
    fd = os.open(tmp_path / "writer.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        yield fd
    finally:
        os.close(fd)


def _write(fd: int, data: bytes) -> None:
    os.ftruncate(fd, 0)
    os.pwrite(fd, data, 0)


def test_the_holder_is_this_process_as_recorded(lock: int) -> None:
    _record_holder(lock)
    shown = _holder(lock)
    assert shown.startswith(f"pid {os.getpid()}: ")
    assert "pytest" in shown or "python" in shown


@pytest.mark.parametrize(
    "data",
    [
        b"",  # the holder has not written yet (or an older bpfman holds it)
        b"\xff\xfe garbage\n\x00\x01",
        b"12 34 56\n",  # not "pid start"
        b"-1 0\nx",
        b"999999999 0\nbpfman load",  # no such process
        b"1 0\nbpfman load",  # pid 1, but another start time: a reused pid
    ],
)
def test_what_cannot_be_checked_is_another_process(lock: int, data: bytes) -> None:
    _write(lock, data)
    assert _holder(lock) == "another process"


def test_a_hostile_command_line_is_shown_on_one_line(lock: int) -> None:
    argv = b"\0".join([b"bpfman", b"\x1b[2J\nrm -rf /", b"x" * 5000])
    _write(lock, f"{os.getpid()} {_start_time('self')}\n".encode() + argv)
    shown = _holder(lock)
    assert shown.startswith(f"pid {os.getpid()}: bpfman ?[2J rm -rf / xxx")
    assert shown.isprintable() and len(shown) < 200 and shown.endswith("...")


@pytest.mark.parametrize("value", ["", "x", "-1", "nan", "inf", "1e999", "0x10"])
def test_bad_lock_timeouts_are_refused(value: str) -> None:
    with pytest.raises(InvalidInputError, match="is not a number of seconds >= 0"):
        lock_timeout(value)
    assert run(["list", "programs", "--lock-timeout", value]) is None  # click says why


def test_good_lock_timeouts() -> None:
    assert [lock_timeout(v) for v in ("0", "2", "0.5", "1e3")] == [0, 2, 0.5, 1000]
