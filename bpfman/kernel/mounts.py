"""Mounting the kernel filesystems bpfman relies on (bpffs, tracefs)."""

from __future__ import annotations

import os
from pathlib import Path

from bpfman.errors import KernelError, PermissionDeniedError

_MS_NOSUID = 2
_MS_NODEV = 4
_MS_NOEXEC = 8


def is_mounted(path: Path | str, fstype: str) -> bool:
    """Whether ``path`` is the root of a visible ``fstype`` mount.

    The mount's device must be the one ``path`` resolves to: a mount shadowed by a
    later one over a parent (an overlay on /run in a private namespace) is still
    listed in mountinfo but no longer reached through ``path``.
    """
    target = os.path.realpath(path)
    try:
        device = os.stat(target).st_dev
        with open("/proc/self/mountinfo") as f:
            for line in f:
                left, _, right = line.partition(" - ")
                fields = left.split()
                if len(fields) > 4 and fields[4] == target and right.split()[0] == fstype:
                    major, _, minor = fields[2].partition(":")
                    if os.makedev(int(major), int(minor)) == device:
                        return True
    except OSError:
        return False
    return False


def ensure_mounted(path: Path | str, fstype: str, options: str = "") -> None:
    """Mount a fresh ``fstype`` at ``path`` unless one is already there."""
    Path(path).mkdir(parents=True, exist_ok=True)
    if is_mounted(path, fstype):
        return
    import ctypes
    import ctypes.util

    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    flags = _MS_NOSUID | _MS_NODEV | _MS_NOEXEC
    data = options.encode() if options else None
    if libc.mount(fstype.encode(), os.fsencode(path), fstype.encode(), flags, data) != 0:
        err = ctypes.get_errno()
        if err == 1:
            raise PermissionDeniedError(f"cannot mount {fstype} at {path}: must be run as root")
        raise KernelError(f"mount {fstype} at {path}", err)
