"""A plugin that declares no program type, not even the one its entry point names."""

from __future__ import annotations

from bpfman.plugin import ProgramType, hookimpl


@hookimpl
def bpfman_program_types() -> list[ProgramType]:
    return []
