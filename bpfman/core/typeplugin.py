"""A base class for plugins that provide program types.

Every firstresult hook asks "is this type yours?"; :class:`TypePlugin`
answers that once from :attr:`TypePlugin.types` and forwards to plain
methods, so a plugin writes only what its type does. Register an instance
(``entry point = "package.module:plugin"``). Module-level ``@hookimpl``
functions remain just as valid; this is a convenience, not a requirement.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from .hookspecs import hookimpl

if TYPE_CHECKING:
    import click

    from bpfman.kernel import BpfObject

    from .context import AttachContext, DetachContext, LinkView, ProgramType
    from .model import LinkRecord, ProgramRecord


class TypePlugin:
    """Subclass, set :attr:`types`, implement :meth:`attach` and :meth:`describe`."""

    types: ClassVar[tuple[ProgramType, ...]] = ()

    def owns(self, program_type: str) -> bool:
        return any(t.name == program_type for t in self.types)

    # -- what a subclass provides ---------------------------------------------
    def commands(self) -> list[click.Command]:
        """The ``attach`` subcommands (import click modules lazily here)."""
        return []

    def prepare_load(
        self, program_type: str, function: str, section: str, obj: BpfObject
    ) -> dict[str, Any]:
        """Check or adjust a program before load; return data to record."""
        return {}

    def attach(self, program_type: str, ctx: AttachContext) -> dict[str, Any]:
        raise NotImplementedError

    def detach(self, program_type: str, ctx: DetachContext) -> bool | None:
        """Extra detach work; None lets the core unpin the link."""
        return None

    def describe(
        self, program_type: str, link: LinkRecord, program: ProgramRecord, position: int | None
    ) -> LinkView:
        raise NotImplementedError

    # -- the hooks ------------------------------------------------------------
    @hookimpl
    def bpfman_program_types(self) -> list[ProgramType]:
        return list(self.types)

    @hookimpl
    def bpfman_attach_commands(self) -> list[click.Command]:
        return self.commands()

    @hookimpl
    def bpfman_prepare_load(
        self, program_type: str, function: str, section: str, obj: BpfObject
    ) -> dict[str, Any] | None:
        if not self.owns(program_type):
            return None
        return self.prepare_load(program_type, function, section, obj)

    @hookimpl
    def bpfman_attach(self, program_type: str, ctx: AttachContext) -> dict[str, Any] | None:
        return self.attach(program_type, ctx) if self.owns(program_type) else None

    @hookimpl
    def bpfman_detach(self, program_type: str, ctx: DetachContext) -> bool | None:
        return self.detach(program_type, ctx) if self.owns(program_type) else None

    @hookimpl
    def bpfman_describe_link(
        self, program_type: str, link: LinkRecord, program: ProgramRecord, position: int | None
    ) -> LinkView | None:
        if not self.owns(program_type):
            return None
        return self.describe(program_type, link, program, position)
