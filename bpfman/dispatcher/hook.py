"""What a plugin supplies to hook a program (a dispatcher or a lone program) to an interface."""

from __future__ import annotations

from typing import Any, Protocol

from bpfman.core.contract import Resource

from .state import HookState


class HookOps(Protocol):
    """Kernel operations on one hook (an XDP interface, a TC interface+direction)."""

    def install(self, prog_fd: int, prog_pin: str, previous: HookState | None) -> dict[str, Any]:
        """Run the program on the hook: attach it, or atomically replace what
        ``previous`` runs there.

        Journals (``ctx.intend``) every kernel object before creating it, and
        retires what the replaced program leaves behind (an old TC filter).

        :returns: the flavour's record of the hook (:attr:`HookState.attach`): what
            :meth:`removal` needs later, and what the links on the hook show.
        """

    def removal(self, attach: dict[str, Any]) -> list[Resource]:
        """What to retire to take the program off the hook (released after commit)."""

    def alive(self, attach: dict[str, Any]) -> bool:
        """Whether the recorded attachment is still in the kernel (reconciliation)."""
