"""Mounts of CSI volumes: a bpffs per volume and its bind mount at the pod's target.

Target paths come from kubelet and lie in directories other processes can
write to, so a target is reached from ``/`` one directory at a time without
following a symlink (a planted link would steer a mount, or an unmount and
rmdir, anywhere on the host), and mounted through ``/proc/self/fd`` of the
directory opened that way. Every bpffs mounted for a volume carries the
source name ``bpfman-csi:<key>``, which its bind mounts inherit, so
``/proc/self/mountinfo`` tells which mounts belong to which volume, also
after a crash.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

from bpfman.errors import InvalidInputError, KernelError, PermissionDeniedError
from bpfman.logs import get_logger

log = get_logger(__name__)

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MNT_DETACH = 0x2
HARDENED = MS_NOSUID | MS_NODEV | MS_NOEXEC
SOURCE_PREFIX = "bpfman-csi:"
_PATH_FLAGS = os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_ESCAPE = re.compile(rb"\\([0-7]{3})")
_libc: ctypes.CDLL | None = None


class Mount(NamedTuple):
    """One line of /proc/self/mountinfo."""

    point: str
    fstype: str
    source: str
    options: tuple[str, ...]

    @property
    def readonly(self) -> bool:
        return "ro" in self.options


def source_name(key: str) -> str:
    return SOURCE_PREFIX + key


def mountinfo() -> list[Mount]:
    """This process's mounts, oldest first (paths unescaped)."""
    with open("/proc/self/mountinfo", "rb") as f:
        lines = f.read().splitlines()
    mounts = []
    for line in lines:
        left, _, right = line.partition(b" - ")
        fields, tail = left.split(), right.split()
        if len(fields) >= 6 and len(tail) >= 2:
            point, options = _unescape(fields[4]), tuple(_unescape(fields[5]).split(","))
            mounts.append(Mount(point, _unescape(tail[0]), _unescape(tail[1]), options))
    return mounts


def _unescape(raw: bytes) -> str:
    return os.fsdecode(_ESCAPE.sub(lambda m: bytes([int(m[1], 8)]), raw))


def _call(name: str, what: str, *args: object) -> None:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    if getattr(_libc, name)(*args) != 0:
        err = ctypes.get_errno()
        if err == errno.EPERM:
            raise PermissionDeniedError(f"{what}: operation not permitted (needs CAP_SYS_ADMIN)")
        raise KernelError(what, err)


def mount(source: str, target: str, fstype: str | None, flags: int, data: str = "") -> None:
    _call(
        "mount",
        f"mount {source} at {target}",
        os.fsencode(source),
        os.fsencode(target),
        None if fstype is None else fstype.encode(),
        ctypes.c_ulong(flags),
        data.encode() or None,
    )


def umount(target: str) -> None:
    """Detach the mount at ``target`` (lazily: the fd naming it keeps it busy)."""
    _call("umount2", f"unmount {target}", os.fsencode(target), MNT_DETACH)


def fd_path(fd: int) -> str:
    """The path the kernel resolves to exactly this open directory."""
    return f"/proc/self/fd/{fd}"


@contextlib.contextmanager
def parent_of(path: str) -> Iterator[int]:
    """An O_PATH fd of ``path``'s parent, reached without following a symlink.

    ``path`` is absolute and normalised (:func:`.request.target_path`).
    """
    fd = os.open("/", _PATH_FLAGS)
    try:
        walked = ""
        for part in path.strip("/").split("/")[:-1]:
            walked += "/" + part
            try:
                child = os.open(part, _PATH_FLAGS, dir_fd=fd)
            except OSError as exc:
                if exc.errno == errno.ENOENT:
                    raise InvalidInputError(f"{walked} does not exist (in {path})") from None
                if exc.errno in (errno.ENOTDIR, errno.ELOOP):
                    raise InvalidInputError(
                        f"{walked} is a symlink or not a directory: refusing to follow it to {path}"
                    ) from None
                raise
            os.close(fd)
            fd = child
        yield fd
    finally:
        os.close(fd)


def open_target(parent: int, path: str) -> int:
    """An O_PATH fd of ``path`` in its parent (the mount on top, if any); no symlink."""
    try:
        return os.open(os.path.basename(path), _PATH_FLAGS, dir_fd=parent)
    except OSError as exc:
        if exc.errno in (errno.ENOTDIR, errno.ELOOP):
            raise InvalidInputError(f"{path} is a symlink or not a directory") from None
        raise


def mounts_of(key: str, point: str | None = None) -> list[Mount]:
    """The mounts of one volume (its bpffs and its binds), at ``point`` if given."""
    source = source_name(key)
    return [m for m in mountinfo() if m.source == source and (point is None or m.point == point)]


def mount_bpffs(path: Path, key: str) -> None:
    """A fresh bpffs at ``path`` (an empty private directory), named for its volume."""
    mount(source_name(key), str(path), "bpf", HARDENED, "mode=0750")


def unmount_all(path: str, key: str) -> None:
    """Unmount every mount of volume ``key`` stacked at ``path`` (reached safely)."""
    with parent_of(path) as parent:
        while mounts_of(key, path):
            fd = open_target(parent, path)
            try:
                umount(fd_path(fd))
            finally:
                os.close(fd)


def bind(source: Path, target: str, readonly: bool) -> bool:
    """Bind-mount ``source`` at ``target``, made if missing; True when it was made."""
    with parent_of(target) as parent:
        name = os.path.basename(target)
        made = False
        try:
            os.mkdir(name, 0o750, dir_fd=parent)
            made = True
        except FileExistsError:
            pass
        try:
            fd = open_target(parent, target)
            try:
                mount(str(source), fd_path(fd), None, MS_BIND)
            finally:
                os.close(fd)
            if readonly:
                # A bind mount takes MS_RDONLY only on a remount of itself,
                # reached through its own root (the fd above is the covered dir).
                fd = open_target(parent, target)
                try:
                    mount(
                        str(source), fd_path(fd), None, MS_BIND | MS_REMOUNT | MS_RDONLY | HARDENED
                    )
                except BaseException:
                    umount(fd_path(fd))
                    raise
                finally:
                    os.close(fd)
        except BaseException:
            if made:
                with contextlib.suppress(OSError):
                    os.rmdir(name, dir_fd=parent)
            raise
        return made


def remove_target(target: str) -> None:
    """Remove the (now empty) target directory; a missing one is fine."""
    try:
        with parent_of(target) as parent:
            os.rmdir(os.path.basename(target), dir_fd=parent)
    except (FileNotFoundError, InvalidInputError):
        pass
    except OSError as exc:
        log.warning("leaving %s in place: %s", target, exc.strerror)
