"""The plugin manager: hookspecs plus entry-point discovery.

Built-in program types register through the same ``bpfman.program_types``
entry-point group as third-party ones, so there is one path for both.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from types import ModuleType
from typing import cast

import pluggy

from . import hookspecs
from .context import ProgramType
from .errors import BpfmanError, InvalidInputError
from .logs import get_logger

ENTRY_POINT_GROUP = "bpfman.program_types"
log = get_logger(__name__)


class PluginError(BpfmanError):
    """A plugin is broken or clashes with another one."""


class Plugins:
    """A pluggy manager plus the program types its plugins declared."""

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self.pm = pm
        self.hook = pm.hook
        self.types: dict[str, ProgramType] = {}
        for impl in pm.hook.bpfman_program_types.get_hookimpls():
            name = impl.plugin_name
            declared = cast(list[ProgramType], impl.function())
            for ptype in declared:
                if ptype.name in self.types:
                    other = self.types[ptype.name].plugin
                    raise PluginError(
                        f"program type {ptype.name!r} is provided by both {other} and {name}"
                    )
                self.types[ptype.name] = _with_plugin(ptype, name)

    def program_type(self, name: str) -> ProgramType:
        try:
            return self.types[name]
        except KeyError:
            known = ", ".join(sorted(self.types))
            raise InvalidInputError(
                f"unknown program type {name!r} (possible values: {known})"
            ) from None

    def infer_type(self, section: str) -> str | None:
        """The bpfman type an ELF section name implies, longest prefix wins."""
        best: tuple[int, str] | None = None
        for ptype in self.types.values():
            for prefix in ptype.section_prefixes:
                if (section == prefix or section.startswith(prefix + "/")) and (
                    best is None or len(prefix) > best[0]
                ):
                    best = (len(prefix), ptype.name)
        return best[1] if best else None


def _with_plugin(ptype: ProgramType, plugin: str) -> ProgramType:
    return replace(ptype, plugin=plugin)


def get_plugin_manager(
    extra: Iterable[ModuleType | object] = (), *, entry_points: bool = True
) -> Plugins:
    """Build a fresh plugin manager.

    :param extra: plugin objects to register besides the discovered ones
        (tests inject throwaway plugins this way).
    :param entry_points: load the ``bpfman.program_types`` entry points.
    """
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    if entry_points:
        _load_entry_points(pm)
    for plugin in extra:
        pm.register(plugin)
    pm.check_pending()
    return Plugins(pm)


def _load_entry_points(pm: pluggy.PluginManager) -> None:
    from importlib.metadata import entry_points

    seen: dict[str, str] = {}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in seen:
            if seen[ep.name] == ep.value:
                continue  # the same distribution seen twice on sys.path
            raise PluginError(
                f"plugin name {ep.name!r} is registered by both {seen[ep.name]} and {ep.value}"
            )
        seen[ep.name] = ep.value
        try:
            plugin = ep.load()
        except Exception as exc:
            raise PluginError(f"cannot load plugin {ep.name} ({ep.value}): {exc}") from exc
        log.debug("loaded plugin %s from %s", ep.name, ep.value)
        pm.register(plugin, name=ep.name)
