"""Find the file a uprobe target names: a path, or a library name.

Library names (``libc``) resolve through the dynamic linker's cache, or
through ``/proc/PID/maps`` when a PID is given, so the probe lands in the
library that process really mapped.
"""

from __future__ import annotations

import os
import stat
import struct

from bpfman.plugin import InvalidInputError, NotFoundError, PermissionDeniedError

LD_SO_CACHE = "/etc/ld.so.cache"
_MAX_CACHE_BYTES = 16 << 20
_MAGIC = b"glibc-ld.so.cache1.1"
_HEADER = struct.Struct("<20sII")  # magic+version, nlibs, len_strings
_HEADER_SIZE = 48
_ENTRY = struct.Struct("<iIIIQ")  # flags, key, value, osversion, hwcap


def _matches(name: str, target: str) -> bool:
    return name == target or name.startswith(target + ".so")


def resolve_target(target: str, pid: int | None = None) -> str:
    """The path of the file to probe; a library name is looked up."""
    found: str | None = target
    if not target.startswith("/"):
        found = _from_maps(target, pid) if pid is not None else _from_cache(target)
        if found is None:
            where = f"in the maps of pid {pid}" if pid is not None else f"in {LD_SO_CACHE}"
            raise NotFoundError(
                f"uprobe target {target!r} not found {where}; give an absolute path"
            )
    path = str(found)
    try:
        mode = os.stat(path).st_mode
    except PermissionError as exc:  # EACCES through /proc/PID/root without CAP_SYS_PTRACE
        raise PermissionDeniedError(f"cannot reach uprobe target {path}: {exc.strerror}") from None
    except OSError as exc:
        raise NotFoundError(f"uprobe target {target} not found ({exc.strerror})") from None
    if not stat.S_ISREG(mode):
        raise InvalidInputError(f"uprobe target {target} is not a regular file")
    return path


def _from_maps(target: str, pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/maps") as f:
            for line in f:
                fields = line.split(maxsplit=5)
                if len(fields) == 6 and fields[5].startswith("/"):
                    path = fields[5].strip()
                    if _matches(os.path.basename(path), target):
                        return f"/proc/{pid}/root{path}"
    except FileNotFoundError:
        raise NotFoundError(f"no process with pid {pid}") from None
    except PermissionError:
        raise NotFoundError(f"cannot read the maps of pid {pid}: permission denied") from None
    return None


def ld_cache_entries(data: bytes) -> list[tuple[str, str]]:
    """(soname, path) pairs of a glibc ``ld.so.cache`` in the 1.1 format."""
    start = data.find(_MAGIC)
    if start < 0 or len(data) < start + _HEADER_SIZE:
        return []
    _, nlibs, _ = _HEADER.unpack_from(data, start)
    entries = []
    for i in range(nlibs):
        at = start + _HEADER_SIZE + i * _ENTRY.size
        if at + _ENTRY.size > len(data):
            break
        _, key, value, _, _ = _ENTRY.unpack_from(data, at)
        name, path = _cstring(data, start + key), _cstring(data, start + value)
        if name is not None and path is not None:
            entries.append((name, path))
    return entries


def _cstring(data: bytes, at: int) -> str | None:
    end = data.find(b"\0", at)
    return None if at >= len(data) or end < 0 else data[at:end].decode(errors="replace")


def _from_cache(target: str) -> str | None:
    try:
        with open(LD_SO_CACHE, "rb") as f:
            data = f.read(_MAX_CACHE_BYTES)
    except OSError:
        return None
    for name, path in ld_cache_entries(data):
        if _matches(name, target):
            return path
    return None
