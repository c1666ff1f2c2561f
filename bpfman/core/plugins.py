"""The plugin manager: hookspecs, entry-point discovery, the registry of types.

Built-in program types register through the same ``bpfman.program_types``
entry-point group as third-party ones, so there is one path for both. Entry
points are named after the type they serve; asking for one type imports only
the plugin behind it, and only help texts and type inference load them all.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import pluggy

from bpfman.discovery import CLASH, discover
from bpfman.errors import InvalidInputError, PluginError
from bpfman.logs import get_logger

from . import hookspecs
from .contract import AttachParams, ProgramType, Resource, TypeHandler
from .fields import check_declarations

log = get_logger(__name__)


class Plugins:
    """A pluggy manager plus the program types its plugins declared."""

    def __init__(self, pm: pluggy.PluginManager, entry_points: dict[str, str]) -> None:
        self._pm = pm
        self._pending = dict(entry_points)
        self._types: dict[str, ProgramType] = {}
        self._broken: dict[str, PluginError] = {}
        self._collect()

    def _collect(self, only: str | None = None) -> None:
        """Record the types of the registered plugins (``only``: of that one)."""
        for impl in self._pm.hook.bpfman_program_types.get_hookimpls():
            name = impl.plugin_name
            if only is not None and name != only:
                continue
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
                params = getattr(ptype.handler, "params", None)
                if not (isinstance(params, type) and issubclass(params, AttachParams)):
                    raise PluginError(
                        f"plugin {name}: type {ptype.name!r}: its handler names no AttachParams"
                        " class (subclass TypeHandler[YourParams])"
                    )
                try:
                    check_declarations(ptype.params, ptype.params.cli_order)
                except PluginError as exc:
                    raise PluginError(f"plugin {name}: type {ptype.name!r}: {exc}") from None
                self._types[ptype.name] = replace(ptype, plugin=name)

    def _load(self, name: str) -> None:
        """Import and register one entry point; a broken one is remembered, and raised
        whenever its type is asked for."""
        value = self._pending.pop(name)
        if value.startswith(CLASH):
            self._broken[name] = PluginError(value.removeprefix(CLASH))
            raise self._broken[name]
        try:
            module, _, attr = value.split("[")[0].partition(":")  # "module:attr [extras]"
            plugin: object = importlib.import_module(module.strip())
            for part in filter(None, attr.strip().split(".")):
                plugin = getattr(plugin, part)
        except Exception as exc:
            broken = PluginError(f"cannot load plugin {name} ({value}): {exc}")
            self._broken[name] = broken
            raise broken from exc
        log.debug("loaded plugin %s from %s", name, value)
        if self._pm.is_registered(plugin):
            return
        try:
            self._pm.register(plugin, name=value)
            self._pm.check_pending()
            self._collect(only=value)
        except Exception as exc:
            if self._pm.is_registered(plugin):
                self._pm.unregister(plugin)  # its other types must not stay half-recorded
            for ptype in [t for t in self._types.values() if t.plugin == value]:
                del self._types[ptype.name]
            broken = exc if isinstance(exc, PluginError) else PluginError(f"plugin {name}: {exc}")
            self._broken[name] = broken
            raise broken from exc

    @property
    def types(self) -> dict[str, ProgramType]:
        """Every installed type that loads (loads every plugin).

        A broken plugin does not take the others down: its types are left out, with
        one warning, and asking for one of them raises its error; `bpfman system
        plugins` lists it.
        """
        for name in list(self._pending):
            if name in self._pending:
                try:
                    self._load(name)
                except PluginError as exc:
                    log.warning("%s: its types are left out (see `bpfman system plugins`)", exc)
        return self._types

    @property
    def names(self) -> set[str]:
        """The installed types' names, loading no plugin: those loaded, the entry points
        not loaded yet (each is named after the type it serves) and the broken ones."""
        return set(self._types) | set(self._pending) | set(self._broken)

    def program_type(self, name: str) -> ProgramType:
        if name in self._broken:
            raise self._broken[name]
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
    pm = hook_manager()
    for plugin in extra:
        pm.register(plugin)
    pm.check_pending()
    return Plugins(pm, discover(cache) if entry_points else {})


def hook_manager() -> pluggy.PluginManager:
    """A pluggy manager that knows bpfman's hooks and holds no plugin yet."""
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    return pm
