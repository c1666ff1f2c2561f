"""The plugin contract: every program type is a pluggy plugin.

A plugin object registered under the ``bpfman.program_types`` entry-point
group implements these hooks with ``@bpfman.plugin.hookimpl``. There is one
hook today: the types a plugin declares, each carrying the
:class:`~bpfman.core.contract.TypeHandler` that serves it. The core then
calls the owning handler directly, so a plugin never has to ask "is this
type mine?".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from .contract import ProgramType

PROJECT = "bpfman"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def bpfman_program_types() -> list[ProgramType]:
    """Declare the program types this plugin provides.

    Called when the plugin is loaded, which happens the first time one of
    its types is needed. Type names must be unique across all plugins; a
    duplicate stops bpfman with an error. The entry point's name must be
    one of the declared type names (give a plugin with several types one
    entry point per type, all naming the same object).

    :returns: a list of :class:`~bpfman.core.contract.ProgramType`.

    Example (:func:`program_types` writes the same in one line)::

        DEMO = ProgramType("demo", PROG_TYPE.TRACEPOINT, handler=DemoHandler())

        @hookimpl
        def bpfman_program_types():
            return [DEMO]
    """


def program_types(*types: ProgramType) -> Callable[[], list[ProgramType]]:
    """The :func:`bpfman_program_types` implementation of a plugin that declares ``types``.

    A plugin module assigns it to the hook's name, next to its declarations::

        bpfman_program_types = program_types(DEMO)
    """

    @hookimpl
    def bpfman_program_types() -> list[ProgramType]:
        return list(types)

    return bpfman_program_types
