"""``bpfman system plugins``: every installed plugin, loaded on its own, with its error.

Apart from :mod:`bpfman.core.plugins`, which every command imports: only this
command scans the installed distributions and makes these records.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import NamedTuple

from bpfman.discovery import ENTRY_POINT_GROUP
from bpfman.errors import BpfmanError

from .plugins import Plugins, hook_manager


class EntryPoint(NamedTuple):
    """One installed entry point of the group, and the distribution that declares it."""

    name: str
    value: str
    package: str
    version: str


def installed() -> list[EntryPoint]:
    """Every entry point of the group as installed, names two of them share included."""
    from importlib.metadata import entry_points

    found = {
        EntryPoint(ep.name, ep.value, ep.dist.name, ep.dist.version)
        if ep.dist is not None
        else EntryPoint(ep.name, ep.value, "", "")
        for ep in entry_points(group=ENTRY_POINT_GROUP)
    }
    return sorted(found)


@dataclass(frozen=True)
class Installed:
    """A plugin as ``bpfman system plugins`` lists it.

    :param name: its entry point's name, the type it serves.
    :param entry_point: what the entry point loads (``module[:attr]``).
    :param package: the distribution that installed it, and its version.
    :param types: every type it declares (empty when it cannot be loaded).
    :param error: why commands cannot use it (None: they can).
    """

    name: str
    entry_point: str
    package: str
    version: str
    types: tuple[str, ...] = ()
    error: str | None = None


def survey() -> list[Installed]:
    """Every installed plugin, each loaded on its own, as a command would load it:
    a broken one is listed with its error instead of hiding the others."""
    found = installed()
    values: dict[str, set[str]] = {}
    for ep in found:
        values.setdefault(ep.name, set()).add(ep.value)
    plugins = []
    for ep in found:
        plugin = Installed(ep.name, ep.value, ep.package, ep.version)
        others = values[ep.name] - {ep.value}
        if others:  # discovery refuses the name, for every command
            error = f"plugin name {ep.name!r} is registered by {', '.join(sorted(others))} too"
            plugins.append(replace(plugin, error=error))
            continue
        one = Plugins(hook_manager(), {ep.name: ep.value})
        try:
            one.program_type(ep.name)
            plugins.append(replace(plugin, types=tuple(sorted(one.types))))
        except BpfmanError as exc:
            plugins.append(replace(plugin, error=str(exc)))
        except Exception as exc:  # the plugin's own code failed: that is its error
            plugins.append(replace(plugin, error=f"{type(exc).__name__}: {exc}"))
    return _clashes(plugins)


def _clashes(plugins: list[Installed]) -> list[Installed]:
    """The plugins, those declaring a type another one declares too marked broken
    (every command that loads all types refuses both)."""
    owners: dict[str, set[str]] = {}
    for plugin in plugins:
        for name in plugin.types:
            owners.setdefault(name, set()).add(plugin.entry_point)
    marked = []
    for plugin in plugins:
        shared = [name for name in plugin.types if len(owners[name]) > 1]
        if shared:
            others = sorted(owners[shared[0]] - {plugin.entry_point})
            error = f"type {shared[0]!r} is declared by {', '.join(others)} too"
            plugin = replace(plugin, error=error)
        marked.append(plugin)
    return marked
