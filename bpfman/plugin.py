"""Everything a program-type plugin needs, in one place.

A plugin module (registered under the ``bpfman.program_types`` entry-point
group, one entry point per type it serves) implements
:func:`~bpfman.core.hookspecs.bpfman_program_types` and returns
:class:`ProgramType` objects whose :class:`TypeHandler` does the work::

    from bpfman.plugin import AttachParams, LinkView, ProgramType, TypeHandler, hookimpl

See the README's plugin guide for a complete example. ``attach_command``
(which builds the ``bpfman attach <ID> <TYPE>`` subcommand with click) is
resolved lazily, so importing this module does not import click.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bpfman import kernel, validate
from bpfman.core.context import AttachContext, DetachContext, LoadContext, RecoverContext
from bpfman.core.contract import (
    AttachParams,
    LinkView,
    ProgramType,
    Resource,
    TypeHandler,
    resolved,
)
from bpfman.core.errors import (
    BpfmanError,
    ConflictError,
    InvalidInputError,
    KernelError,
    LimitExceededError,
    NotFoundError,
    PermissionDeniedError,
    PluginError,
    UnsupportedError,
)
from bpfman.core.hookspecs import hookimpl
from bpfman.core.model import LinkRecord, ProgramRecord, shown
from bpfman.service.attachinfo import AttachMapping, default_priority

if TYPE_CHECKING:
    from bpfman.cli.options import (
        MultiValueOption,
        attach_command,
        direction_option,
        iface_option,
        netns_option,
        priority_option,
    )

# The click helpers for ``attach`` subcommands, resolved on first use.
_CLI_HELPERS = {
    "MultiValueOption",
    "attach_command",
    "direction_option",
    "iface_option",
    "netns_option",
    "priority_option",
}


def __getattr__(name: str) -> Any:
    if name in _CLI_HELPERS:
        from bpfman.cli import options

        return getattr(options, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "AttachContext",
    "AttachMapping",
    "AttachParams",
    "BpfmanError",
    "ConflictError",
    "DetachContext",
    "InvalidInputError",
    "KernelError",
    "LimitExceededError",
    "LinkRecord",
    "LinkView",
    "LoadContext",
    "MultiValueOption",
    "NotFoundError",
    "PermissionDeniedError",
    "PluginError",
    "ProgramRecord",
    "ProgramType",
    "RecoverContext",
    "Resource",
    "TypeHandler",
    "UnsupportedError",
    "attach_command",
    "default_priority",
    "direction_option",
    "hookimpl",
    "iface_option",
    "kernel",
    "netns_option",
    "priority_option",
    "resolved",
    "shown",
    "validate",
]
