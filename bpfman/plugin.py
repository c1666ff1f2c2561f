"""Everything a program-type plugin needs, in one place.

A plugin module (registered under the ``bpfman.program_types`` entry-point
group, one entry point per type it serves) declares :class:`ProgramType`
objects, whose :class:`TypeHandler` does the work, and returns them from its
:func:`~bpfman.core.hookspecs.bpfman_program_types` hook, which
:func:`program_types` writes::

    from bpfman.plugin import AttachParams, ProgramType, TypeHandler, option, program_types

    DEMO = ProgramType("demo", kernel.PROG_TYPE.TRACEPOINT, handler=Demo())
    bpfman_program_types = program_types(DEMO)

A type is one declaration: its params dataclass declares each attach option
once (``field(metadata=option(...))``), and the CLI, the library, the gRPC
service and the docs are derived from it. A plugin imports this module and
nothing else of bpfman; it never imports the front-ends. See the plugin guide,
docs/plugins.md, and its complete example, ``tests/plugins/bpfman_demo_plugin``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from bpfman import kernel, validate
from bpfman.core.bpffs import entries, is_pinned, unpin
from bpfman.core.context import AttachContext, DetachContext, LoadContext, RecoverContext
from bpfman.core.contract import (
    AttachParams,
    LinkView,
    ProgramType,
    Resource,
    TypeHandler,
    resolved,
)
from bpfman.core.fields import (
    DIRECTION,
    IFACE,
    NETNS,
    PRIORITY,
    Direction,
    GrpcField,
    option,
    priority_option,
)
from bpfman.core.hookspecs import hookimpl, program_types
from bpfman.core.model import LinkRecord, ProgramRecord, shown
from bpfman.errors import (
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
from bpfman.lazy import lazy_attributes

if TYPE_CHECKING:
    from bpfman.core import liveness
    from bpfman.kernel import features
    from bpfman.kernel.links import is_detached
    from bpfman.kernel.namespaces import NetnsRef, in_mount_namespace, reachable_netns

# Attach-time helpers resolve on first use: importing a plugin, which every ``load``
# of its type does, stays free of the link, namespace, liveness and feature code.
_attribute = lazy_attributes(
    __name__,
    {
        "is_detached": "bpfman.kernel.links",
        "NetnsRef": "bpfman.kernel.namespaces",
        "in_mount_namespace": "bpfman.kernel.namespaces",
        "reachable_netns": "bpfman.kernel.namespaces",
    },
    globals(),
)
_MODULES = {"features": "bpfman.kernel.features", "liveness": "bpfman.core.liveness"}


def __getattr__(name: str) -> Any:
    if name in _MODULES:
        module = globals()[name] = importlib.import_module(_MODULES[name])
        return module
    return _attribute(name)


__all__ = [
    "DIRECTION",
    "IFACE",
    "NETNS",
    "PRIORITY",
    "AttachContext",
    "AttachParams",
    "BpfmanError",
    "ConflictError",
    "DetachContext",
    "Direction",
    "GrpcField",
    "InvalidInputError",
    "KernelError",
    "LimitExceededError",
    "LinkRecord",
    "LinkView",
    "LoadContext",
    "NetnsRef",
    "NotFoundError",
    "PermissionDeniedError",
    "PluginError",
    "ProgramRecord",
    "ProgramType",
    "RecoverContext",
    "Resource",
    "TypeHandler",
    "UnsupportedError",
    "entries",
    "features",
    "hookimpl",
    "in_mount_namespace",
    "is_detached",
    "is_pinned",
    "kernel",
    "liveness",
    "option",
    "priority_option",
    "program_types",
    "reachable_netns",
    "resolved",
    "shown",
    "unpin",
    "validate",
]
