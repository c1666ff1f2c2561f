"""bpfman's own bpffs and the pin paths inside it.

Everything bpfman keeps alive in the kernel is pinned under one bpffs mount
below its root directory, so a separate root (tests, a second instance) never
collides with another one and a reboot or unmount leaves no stale records.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

from .mounts import ensure_mounted, is_mounted


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
    return is_mounted(path, "bpf")


def mount_bpffs(path: Path) -> None:
    """Mount a fresh bpffs at ``path`` unless one is already there."""
    ensure_mounted(path, "bpf")


def unpin(path: Path | str) -> None:
    """Remove a pin; an already missing pin is fine."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def remove_dir(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)
