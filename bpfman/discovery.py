"""Finding the installed plugins: the ``bpfman.program_types`` entry points.

Scanning the installed distributions with ``importlib.metadata`` costs more
than the rest of a ``load`` command, so the entry points found are cached in
the root, keyed by the modification times of the directories on ``sys.path``:
installing, upgrading or removing a distribution adds or removes a directory
in one of them, and the next command scans again.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgpack

from bpfman.core.errors import PluginError
from bpfman.logs import get_logger

ENTRY_POINT_GROUP = "bpfman.program_types"
log = get_logger(__name__)


def discover(cache: Path | None) -> dict[str, str]:
    """Entry point name to ``module:attr``, from the cache while ``sys.path`` is unchanged."""
    key = [[entry, _mtime(entry)] for entry in sys.path]
    if cache is not None and not _ours_alone(cache.parent, stat.S_ISDIR, 0o077):
        cache = None  # a root not (yet) checked private: neither trust nor write it
    if cache is not None:
        cached = _read_cache(cache)
        hit = cached.get("found") if cached.get("key") == key else None
        if isinstance(hit, dict) and all(isinstance(v, str) for v in hit.values()):
            return hit
    found = _scan()
    if cache is not None:
        _write_cache(cache, {"key": key, "found": found})
    return found


def _mtime(entry: str) -> int | None:
    try:
        return os.stat(entry or ".").st_mtime_ns
    except OSError:
        return None


def _read_cache(path: Path) -> dict[str, Any]:
    """The cache's content, or nothing when it is missing, unreadable or not ours alone."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError:
        return {}
    try:
        if not _ours_alone(fd, stat.S_ISREG, 0o022):
            return {}
        with os.fdopen(os.dup(fd), "rb") as f:
            value = msgpack.unpackb(f.read(1 << 20), raw=False)
        return value if isinstance(value, dict) else {}
    except (OSError, ValueError, msgpack.UnpackException):
        return {}
    finally:
        os.close(fd)


def _ours_alone(where: Path | int, kind: Callable[[int], bool], forbidden: int) -> bool:
    """Whether ``where`` (a path, not followed, or an fd) is of ``kind``, this user's,
    and without the ``forbidden`` permission bits."""
    try:
        st = os.fstat(where) if isinstance(where, int) else os.lstat(where)
    except OSError:
        return False
    return kind(st.st_mode) and st.st_uid == os.geteuid() and not st.st_mode & forbidden


def _write_cache(path: Path, value: dict[str, Any]) -> None:
    """Replace the cache atomically; a cache that cannot be written is only slower."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(msgpack.packb(value, use_bin_type=True))
        os.replace(tmp, path)
    except OSError as exc:
        log.debug("cannot cache the plugin entry points in %s: %s", path, exc)
        tmp.unlink(missing_ok=True)


def _scan() -> dict[str, str]:
    from importlib.metadata import entry_points

    seen: dict[str, str] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        other = seen.get(ep.name)
        if other is not None and other != ep.value:
            raise PluginError(
                f"plugin name {ep.name!r} is registered by both {other} and {ep.value}"
            )
        seen[ep.name] = ep.value  # the same distribution seen twice on sys.path is fine
    return seen
