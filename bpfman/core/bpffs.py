"""bpfman's own bpffs and the pin paths inside it.

Everything bpfman keeps alive in the kernel is pinned under one bpffs mount
below its root directory, so a separate root (tests, a second instance) never
collides with another one and a reboot or unmount leaves no stale records.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

from .errors import BpfmanError, PermissionDeniedError

_MS_NOSUID = 2
_MS_NODEV = 4
_MS_NOEXEC = 8


class Layout:
    """Where state and pins live under a root directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.fs = root / "fs"
        self.db = root / "db"

    def prog_pin(self, program_id: int) -> Path:
        return self.fs / f"prog_{program_id}"

    def link_pin(self, link_id: int) -> Path:
        return self.fs / "links" / str(link_id)

    def map_dir(self, owner_id: int) -> Path:
        return self.fs / "maps" / str(owner_id)

    def plugin_dir(self, name: str) -> Path:
        """A directory a plugin may pin its own objects in (dispatchers...)."""
        return self.fs / name


def is_bpffs(path: Path) -> bool:
    target = os.path.realpath(path)
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                left, _, right = line.partition(" - ")
                fields = left.split()
                if len(fields) > 4 and fields[4] == target and right.split()[0] == "bpf":
                    return True
    except OSError:
        return False
    return False


def mount_bpffs(path: Path) -> None:
    """Mount a fresh bpffs at ``path`` unless one is already there."""
    path.mkdir(parents=True, exist_ok=True)
    if is_bpffs(path):
        return
    import ctypes
    import ctypes.util

    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    flags = _MS_NOSUID | _MS_NODEV | _MS_NOEXEC
    if libc.mount(b"bpf", os.fsencode(path), b"bpf", flags, None) != 0:
        err = ctypes.get_errno()
        if err == 1:
            raise PermissionDeniedError(f"cannot mount bpffs at {path}: must be run as root")
        raise BpfmanError(f"cannot mount bpffs at {path}: {os.strerror(err)}")


def unpin(path: Path | str) -> None:
    """Remove a pin; an already missing pin is fine."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def remove_dir(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
