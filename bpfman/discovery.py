"""Finding the installed plugins: the ``bpfman.program_types`` entry points.

Scanning the installed distributions with ``importlib.metadata`` costs more
than the rest of a ``load`` command, so the entry points found are cached in
the root, keyed by the directories on ``sys.path`` (see :func:`_path_key`):
installing, upgrading or removing a distribution adds or removes an entry in
one of them, and the next command scans again. ``bpfman system plugins`` scans
afresh (:mod:`bpfman.core.survey`), with the distribution of each.
"""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import time
from pathlib import Path
from typing import Any, TypeGuard

import msgpack

from bpfman.logs import get_logger

ENTRY_POINT_GROUP = "bpfman.program_types"
log = get_logger(__name__)


def discover(cache: Path | None) -> dict[str, str]:
    """Entry point name to ``module:attr``, from the cache while ``sys.path`` is unchanged.

    :param cache: the cache file; used only in a directory that is this
        user's alone (the bpfman root), opened once and used through that fd.
    """
    key, settled = _path_key()
    root = _private_dir_fd(cache.parent) if cache is not None else None
    if root is None or cache is None:
        return _scan()
    try:
        cached = _read_cache(root, cache.name)
        hit = cached.get("found") if cached.get("key") == key else None
        if _usable(hit):
            return hit
        found = _scan()
        if settled and found:
            _write_cache(root, cache.name, {"key": key, "found": found})
        return found
    finally:
        os.close(root)


def _usable(found: object) -> TypeGuard[dict[str, str]]:
    """Whether a cache's entries can stand for a scan.

    bpfman's own types are entry points too, so a scan always finds some: a
    cache listing none (emptied, or written from a broken environment) would
    refuse every type until sys.path changed. It is rescanned instead.
    """
    return (
        isinstance(found, dict)
        and bool(found)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in found.items())
    )


def _path_key() -> tuple[list[Any], bool]:
    """What the installed distributions depend on, and whether it has settled.

    Each ``sys.path`` entry, made absolute, with its inode and change times: a
    distribution installed, upgraded or removed adds or removes an entry in
    one of these directories, which moves its ctime (unlike the mtime, no
    unpacking tool can set it back). A directory changed within the last
    second may change again within the clock's granularity: not settled, so
    the scan it gives is used but not cached.
    """
    key: list[Any] = [sys.executable, sys.version]
    newest = 0
    for entry in sys.path:
        path = os.path.abspath(entry)
        try:
            st = os.stat(path)
        except OSError:
            key.append([path])
            continue
        key.append([path, st.st_dev, st.st_ino, st.st_mtime_ns, st.st_ctime_ns])
        newest = max(newest, st.st_mtime_ns, st.st_ctime_ns)
    return key, time.time_ns() - newest > 1_000_000_000


def _private_dir_fd(path: Path) -> int | None:
    """An fd of ``path`` if it is a directory (not a symlink) of this user's alone."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    st = os.fstat(fd)
    if st.st_uid == os.geteuid() and not st.st_mode & 0o077:
        return fd
    os.close(fd)
    return None


def _read_cache(root: int, name: str) -> dict[str, Any]:
    """The cache's content, or nothing when it is missing, unreadable or not ours alone."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=root)
    except OSError:
        return {}
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o022:
            return {}
        with os.fdopen(os.dup(fd), "rb") as f:
            value = msgpack.unpackb(f.read(1 << 20), raw=False)
        return value if isinstance(value, dict) else {}
    except (OSError, ValueError, msgpack.UnpackException):
        return {}
    finally:
        os.close(fd)


def _write_cache(root: int, name: str, value: dict[str, Any]) -> None:
    """Replace the cache atomically; a cache that cannot be written is only slower.

    The data goes to an unnamed file first (O_TMPFILE), so a process killed
    while writing leaves nothing; it is then linked under a random name and
    renamed over the cache.
    """
    tmp = f".{name}.{os.urandom(8).hex()}"
    try:
        fd = os.open(".", os.O_WRONLY | os.O_TMPFILE | os.O_CLOEXEC, 0o600, dir_fd=root)
    except OSError as exc:
        log.debug("cannot cache the plugin entry points: %s", exc)
        return
    try:
        os.write(fd, msgpack.packb(value, use_bin_type=True))
        os.link(f"/proc/self/fd/{fd}", tmp, dst_dir_fd=root, follow_symlinks=True)
    except OSError as exc:
        log.debug("cannot cache the plugin entry points: %s", exc)
        return
    finally:
        os.close(fd)
    try:
        os.replace(tmp, name, src_dir_fd=root, dst_dir_fd=root)
    except OSError as exc:
        log.debug("cannot cache the plugin entry points: %s", exc)
        with contextlib.suppress(OSError):
            os.unlink(tmp, dir_fd=root)


# An entry point name two distributions claim maps to CLASH + why: no module is loaded
# for it, and asking for its type says why (the other types stay usable).
CLASH = "!"


def _scan() -> dict[str, str]:
    from importlib.metadata import entry_points

    seen: dict[str, str] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        other = seen.get(ep.name)
        if other is not None and other != ep.value:
            # Neither is loaded: which one a user meant is not bpfman's to guess.
            first = other.removeprefix(CLASH).split(" and ")[0]
            seen[ep.name] = (
                f"{CLASH}plugin name {ep.name!r} is registered by both {first} and {ep.value}"
            )
            continue
        seen[ep.name] = ep.value  # the same distribution seen twice on sys.path is fine
    return seen
