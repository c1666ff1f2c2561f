"""The plugin manager: built-in types register, and a duplicate type name is refused."""

from __future__ import annotations

import pytest

from bpfman.core.errors import PluginError
from bpfman.core.plugins import get_plugin_manager
from bpfman.kernel import PROG_TYPE
from bpfman.plugin import ProgramType, hookimpl
from bpfman.plugins.tracepoint.handler import Tracepoint

BUILT_IN = {"tracepoint", "kprobe", "uprobe", "fentry", "fexit", "tcx", "xdp", "tc"}


class _DuplicateTracepoint:
    """A throwaway plugin that claims a type name another plugin already has."""

    @hookimpl
    def bpfman_program_types(self) -> list[ProgramType]:
        return [ProgramType("tracepoint", PROG_TYPE.TRACEPOINT, handler=Tracepoint())]


def test_built_in_types_are_registered() -> None:
    assert set(get_plugin_manager().types) >= BUILT_IN


def test_duplicate_type_name_is_refused() -> None:
    with pytest.raises(PluginError, match="tracepoint"):
        get_plugin_manager(extra=[_DuplicateTracepoint()]).program_type("tracepoint")
    # Without the clash the same manager builds fine.
    assert "tracepoint" in get_plugin_manager().types
