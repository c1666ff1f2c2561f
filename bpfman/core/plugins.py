"""The plugin manager: hookspecs, entry-point discovery, the registry of types.

Built-in program types register through the same ``bpfman.program_types``
entry-point group as third-party ones, so there is one path for both. Entry
points are named after the type they serve; asking for one type imports only
the plugin behind it, and only help texts and type inference load them all.

Scanning the installed distributions with ``importlib.metadata`` costs more
than the rest of a ``load`` command, so the entry points found are cached in
the root, keyed by the modification times of the directories on ``sys.path``:
installing, upgrading or removing a distribution adds or removes a directory
in one of them, and the next command scans again.
"""

from __future__ import annotations

import importlib
import os
import stat
import sys
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import msgpack
import pluggy

from . import hookspecs
from .contract import ProgramType, Resource, TypeHandler
from .errors import InvalidInputError, PluginError
from .logs import get_logger

ENTRY_POINT_GROUP = "bpfman.program_types"
log = get_logger(__name__)


class Plugins:
    """A pluggy manager plus the program types its plugins declared."""

    def __init__(self, pm: pluggy.PluginManager, entry_points: dict[str, str]) -> None:
        self._pm = pm
        self._pending = dict(entry_points)
        self._types: dict[str, ProgramType] = {}
        self._collect()

    def _collect(self) -> None:
        """Record the types of every registered plugin not seen yet."""
        for impl in self._pm.hook.bpfman_program_types.get_hookimpls():
            name = impl.plugin_name
            for ptype in cast(list[ProgramType], impl.function()):
                known = self._types.get(ptype.name)
                if known is not None and known.plugin == name:
                    continue
                if known is not None:
                    raise PluginError(
                        f"program type {ptype.name!r} is provided by both {known.plugin} and {name}"
                    )
                if not isinstance(ptype.handler, TypeHandler):
                    raise PluginError(f"plugin {name}: type {ptype.name!r} has no handler")
                self._types[ptype.name] = replace(ptype, plugin=name)

    def _load(self, name: str) -> None:
        value = self._pending.pop(name)
        try:
            module, _, attr = value.partition(":")
            plugin: object = importlib.import_module(module.strip())
            for part in filter(None, attr.strip().split(".")):
                plugin = getattr(plugin, part)
        except Exception as exc:
            raise PluginError(f"cannot load plugin {name} ({value}): {exc}") from exc
        log.debug("loaded plugin %s from %s", name, value)
        if not self._pm.is_registered(plugin):
            self._pm.register(plugin, name=value)
            self._pm.check_pending()
        self._collect()

    @property
    def types(self) -> dict[str, ProgramType]:
        """Every installed type (loads every plugin)."""
        for name in list(self._pending):
            if name in self._pending:
                self._load(name)
        return self._types

    def program_type(self, name: str) -> ProgramType:
        if name in self._pending:
            self._load(name)
            if name not in self._types:
                raise PluginError(f"the plugin registered as {name!r} declares no type {name!r}")
        try:
            return self._types[name]
        except KeyError:
            known = ", ".join(sorted(self.types))
            raise InvalidInputError(
                f"unknown program type {name!r} (possible values: {known})"
            ) from None

    def objects(self) -> list[object]:
        """Every plugin object (loads every plugin), for what they declare besides types."""
        self.types  # noqa: B018 -- loads the pending entry points
        return list(self._pm.get_plugins())

    def handler(self, name: str) -> TypeHandler[Any]:
        return self.program_type(name).handler

    def release(self, resource: Resource) -> None:
        """Release a plugin-kind resource through the handler of its owning type."""
        self.handler(resource.owner).release(resource)

    def infer_type(self, section: str) -> ProgramType | None:
        """The type an ELF section name implies, longest prefix wins."""
        best: tuple[int, ProgramType] | None = None
        for ptype in self.types.values():
            for prefix in ptype.section_prefixes:
                if (section == prefix or section.startswith(prefix + "/")) and (
                    best is None or len(prefix) > best[0]
                ):
                    best = (len(prefix), ptype)
        return best[1] if best else None

    def image_label(self, section: str) -> str | None:
        """What an image's ``io.ebpf.programs`` label calls a program in ``section``."""
        ptype = self.infer_type(section)
        return ptype.label(section) if ptype else None


def get_plugin_manager(
    extra: Iterable[object] = (), *, entry_points: bool = True, cache: Path | None = None
) -> Plugins:
    """Build a fresh plugin manager.

    :param extra: plugin objects to register besides the discovered ones
        (tests inject throwaway plugins this way).
    :param entry_points: discover the ``bpfman.program_types`` entry points.
    :param cache: where to cache what discovery found; used only inside a
        directory that is this user's alone.
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    for plugin in extra:
        pm.register(plugin)
    pm.check_pending()
    return Plugins(pm, _discover(cache) if entry_points else {})


def _discover(cache: Path | None) -> dict[str, str]:
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
