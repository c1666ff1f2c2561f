"""The plugin manager: hookspecs, entry-point discovery, the registry of types.

Built-in program types register through the same ``bpfman.program_types``
entry-point group as third-party ones, so there is one path for both. Entry
points are named after the type they serve; asking for one type imports only
the plugin behind it, and only help texts and type inference load them all.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import TYPE_CHECKING, Any, cast

import pluggy

from . import hookspecs
from .contract import ProgramType, Resource, TypeHandler
from .errors import InvalidInputError, PluginError
from .logs import get_logger

if TYPE_CHECKING:
    from importlib.metadata import EntryPoint

ENTRY_POINT_GROUP = "bpfman.program_types"
log = get_logger(__name__)


class Plugins:
    """A pluggy manager plus the program types its plugins declared."""

    def __init__(self, pm: pluggy.PluginManager, entry_points: dict[str, EntryPoint]) -> None:
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
        ep = self._pending.pop(name)
        try:
            plugin = ep.load()
        except Exception as exc:
            raise PluginError(f"cannot load plugin {ep.name} ({ep.value}): {exc}") from exc
        log.debug("loaded plugin %s from %s", ep.name, ep.value)
        if not self._pm.is_registered(plugin):
            self._pm.register(plugin, name=ep.value)
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


def get_plugin_manager(extra: Iterable[object] = (), *, entry_points: bool = True) -> Plugins:
    """Build a fresh plugin manager.

    :param extra: plugin objects to register besides the discovered ones
        (tests inject throwaway plugins this way).
    :param entry_points: discover the ``bpfman.program_types`` entry points.
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    for plugin in extra:
        pm.register(plugin)
    pm.check_pending()
    return Plugins(pm, _entry_points() if entry_points else {})


def _entry_points() -> dict[str, EntryPoint]:
    from importlib.metadata import entry_points

    seen: dict[str, EntryPoint] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        other = seen.get(ep.name)
        if other is not None and other.value != ep.value:
            raise PluginError(
                f"plugin name {ep.name!r} is registered by both {other.value} and {ep.value}"
            )
        seen[ep.name] = ep  # the same distribution seen twice on sys.path is fine
    return seen
