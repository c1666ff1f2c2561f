"""The plugin manager: built-in types register, a duplicate type name is refused, discovery is cached."""

from __future__ import annotations

import stat
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import msgpack
import pluggy
import pytest

from bpfman import discovery
from bpfman.core import hookspecs
from bpfman.core.plugins import Plugins, get_plugin_manager
from bpfman.errors import PluginError
from bpfman.kernel import PROG_TYPE
from bpfman.plugin import ProgramType, hookimpl, program_types
from bpfman.plugins.tracepoint.handler import Tracepoint

BUILT_IN = {"tracepoint", "kprobe", "uprobe", "fentry", "fexit", "tcx", "xdp", "tc"}


class _DuplicateTracepoint:
    """A throwaway plugin that claims a type name another plugin already has."""

    @hookimpl
    def bpfman_program_types(self) -> list[ProgramType]:
        return [ProgramType("tracepoint", PROG_TYPE.TRACEPOINT, handler=Tracepoint())]


NO_TYPES = object()  # a plugin that declares nothing


def test_built_in_types_are_registered() -> None:
    assert set(get_plugin_manager().types) >= BUILT_IN


def test_duplicate_type_name_is_refused() -> None:
    with pytest.raises(PluginError, match="tracepoint"):
        get_plugin_manager(extra=[_DuplicateTracepoint()]).program_type("tracepoint")
    # Without the clash the same manager builds fine.
    assert "tracepoint" in get_plugin_manager().types


def test_program_types_is_the_hook_returning_the_declarations() -> None:
    """``bpfman_program_types = program_types(...)`` is a plugin module's whole hook."""
    mine = ProgramType("mine", PROG_TYPE.TRACEPOINT, handler=Tracepoint())
    plugin = SimpleNamespace(bpfman_program_types=program_types(mine))
    plugins = get_plugin_manager(extra=[plugin], entry_points=False)
    assert plugins.program_type("mine").handler is mine.handler
    assert set(plugins.types) == {"mine"}


def _settled() -> None:
    """Wait until no sys.path directory changed in the last second (else nothing is cached)."""
    while not discovery._path_key()[1]:
        time.sleep(0.1)


def test_discovery_is_cached_in_a_private_file_only(tmp_path: Path) -> None:
    """The cache answers while sys.path is unchanged, unless another user could write it."""
    cache = tmp_path / "plugins.cache"
    _settled()
    assert "tracepoint" in get_plugin_manager(cache=cache).types
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    # Point the cached tracepoint entry at another object: the next manager uses it.
    cached = msgpack.unpackb(cache.read_bytes())
    cached["found"]["tracepoint"] = "tests.unit.test_plugins:NO_TYPES"
    cache.write_bytes(msgpack.packb(cached))
    with pytest.raises(PluginError, match="declares no type"):
        get_plugin_manager(cache=cache).program_type("tracepoint")
    # The same cache, writable by others, is ignored and replaced by a fresh scan.
    cache.chmod(0o666)
    assert get_plugin_manager(cache=cache).program_type("tracepoint").plugin.startswith("bpfman")
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    # Garbage is a miss too, and so is a changed sys.path.
    cache.write_bytes(b"\xc1 not msgpack")
    assert "tracepoint" in get_plugin_manager(cache=cache).types
    cached = msgpack.unpackb(cache.read_bytes())
    cached["found"]["tracepoint"] = "tests.unit.test_plugins:NO_TYPES"
    cache.write_bytes(msgpack.packb(cached))
    sys.path.append(str(tmp_path))
    try:
        assert get_plugin_manager(cache=cache).program_type("tracepoint").plugin.startswith("bpf")
    finally:
        sys.path.remove(str(tmp_path))
    assert [p.name for p in tmp_path.iterdir()] == ["plugins.cache"]  # no temporary file left


def test_the_cache_key_follows_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A relative sys.path entry ('' for ``python -m``) means another directory elsewhere."""
    monkeypatch.setattr(sys, "path", ["", *sys.path])
    keys = []
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        monkeypatch.chdir(tmp_path / name)
        keys.append(discovery._path_key()[0])
    assert keys[0] != keys[1]


def test_no_cache_outside_a_private_directory(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)
    _settled()
    assert "tracepoint" in get_plugin_manager(cache=shared / "plugins.cache").types
    assert list(shared.iterdir()) == []


@pytest.mark.parametrize("content", ["empty", "garbage", "no types", "no key"])
def test_a_cache_that_finds_no_plugin_is_rescanned_and_replaced(
    tmp_path: Path, content: str
) -> None:
    """An emptied or broken cache never stands for "no types installed"."""
    cache = tmp_path / "plugins.cache"
    _settled()
    get_plugin_manager(cache=cache).types  # noqa: B018 -- writes the cache
    cached = msgpack.unpackb(cache.read_bytes())
    broken = {
        "empty": b"",
        "garbage": b"\x93\x01",  # a truncated msgpack array
        "no types": msgpack.packb({**cached, "found": {}}),
        "no key": msgpack.packb({"found": cached["found"]}),
    }[content]
    cache.write_bytes(broken)
    assert get_plugin_manager(cache=cache).program_type("tracepoint").plugin.startswith("bpfman")
    assert msgpack.unpackb(cache.read_bytes()) == cached


def test_a_scan_that_finds_nothing_is_not_cached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "plugins.cache"
    _settled()
    monkeypatch.setattr(discovery, "_scan", dict)
    assert get_plugin_manager(cache=cache).types == {}
    assert not cache.exists()


def test_a_broken_plugin_leaves_the_others_usable() -> None:
    """One entry point that cannot load must not take every type down (the service
    loads them all at start); asking for its own type says what is wrong."""
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    plugins = Plugins(
        pm, {"tracepoint": "bpfman.plugins.tracepoint.handler", "ghost": "no_such_plugin"}
    )
    assert set(plugins.types) == {"tracepoint"}
    with pytest.raises(PluginError, match="cannot load plugin ghost"):
        plugins.program_type("ghost")
    assert plugins.program_type("tracepoint").name == "tracepoint"
    assert "ghost" not in plugins.types  # asked again: still left out, still no crash
