"""The plugin contract: every program type is a pluggy plugin.

A plugin module registered under the ``bpfman.program_types`` entry-point
group implements some of these hooks with ``@bpfman.core.hookspecs.hookimpl``.
Hooks marked *firstresult* are "who handles this?" questions: each receives
the bpfman type name and an implementation declines by returning ``None``
when the type is not one of its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import click

    from bpfman.kernel import BpfObject

    from .context import AttachContext, DetachContext, LinkView, ProgramType
    from .model import LinkRecord, ProgramRecord

PROJECT = "bpfman"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def bpfman_program_types() -> list[ProgramType]:
    """Declare the program types this plugin provides.

    Called once when the plugin manager starts. Type names must be unique
    across all plugins; a duplicate stops bpfman with an error.

    :returns: a list of :class:`~bpfman.core.context.ProgramType`.

    Example::

        @hookimpl
        def bpfman_program_types():
            return [ProgramType("tracepoint", kernel_type=5, ...)]
    """


@hookspec
def bpfman_attach_commands() -> list[click.Command]:
    """Contribute ``bpfman attach <ID> <TYPE>`` subcommands.

    Called only when the ``attach`` command group is listed or invoked.
    Build commands with :func:`bpfman.cli.options.attach_command` so they
    share the program-id plumbing, ``--metadata`` and the output format.

    :returns: a list of click commands named after the plugin's types.
    """


@hookspec(firstresult=True)
def bpfman_prepare_load(
    program_type: str, function: str, section: str, attach_func: str | None, obj: BpfObject
) -> dict[str, Any] | None:
    """Validate and adjust a program of ``program_type`` before it is loaded.

    Fires once per ``TYPE:FUNC`` of a load request, after the object file is
    opened and the core has set the declared kernel type (and the fentry-style
    attach target), before anything reaches the kernel. A plugin may refine
    the program through ``obj`` (e.g. another type or attach target). Raise
    :class:`~bpfman.core.errors.InvalidInputError` to refuse the load.
    Stops at the first non-None result; plugins with nothing to check or
    record need not implement it.

    :param function: the program's function name.
    :param section: its ELF section name (e.g. ``kretprobe/do_unlinkat``).
    :param attach_func: the third ``--programs`` field, if given.
    :param obj: the opened, not yet loaded object.
    :returns: type-specific data to record with the program (may be empty),
        or None when ``program_type`` is not this plugin's.
    """


@hookspec(firstresult=True)
def bpfman_attach(program_type: str, ctx: AttachContext) -> dict[str, Any] | None:
    """Attach a loaded program in the kernel.

    Fires inside the state write transaction. Validate ``ctx.params`` first
    (cheap checks before any syscall), then attach, pin the kernel link at
    ``ctx.link_pin`` (or keep the program alive another way) and register
    undo actions with ``ctx.on_rollback`` for anything done before a
    possible later failure. Set ``ctx.hook`` and ``ctx.priority`` for types
    that order several links on one hook. Stops at the first non-None
    result.

    :returns: the attach parameters to record (shown by ``get link``), or
        None when ``program_type`` is not this plugin's.
    """


@hookspec(firstresult=True)
def bpfman_detach(program_type: str, ctx: DetachContext) -> bool | None:
    """Detach a link, for types that need more than unpinning it.

    Fires inside the state write transaction, before the core removes the
    link's pin and record. Types whose links are plain pinned bpf_links need
    not implement it. Stops at the first non-None result.

    :returns: True when handled, None to let the core unpin the link.
    """


@hookspec(firstresult=True)
def bpfman_describe_link(
    program_type: str, link: LinkRecord, program: ProgramRecord, position: int | None
) -> LinkView | None:
    """Describe a link for ``list links`` and ``get link``.

    :param position: the link's 0-based place on its hook when the type
        orders links on a shared hook, else None.
    :returns: a :class:`~bpfman.core.context.LinkView`, or None when
        ``program_type`` is not this plugin's. Stops at the first non-None
        result.
    """
