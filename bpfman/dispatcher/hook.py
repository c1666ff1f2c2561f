"""What a plugin supplies to hook a program (a dispatcher or a lone program) to an interface."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from bpfman.core.contract import Resource


@dataclass(frozen=True)
class Installed:
    """What runs on a hook now: the plugin's attach record and the program's pin."""

    attach: dict[str, Any]
    prog_pin: str


class HookOps(Protocol):
    """Kernel operations on one hook (an XDP interface, a TC interface+direction)."""

    def install(self, prog_fd: int, prog_pin: str, previous: Installed | None) -> dict[str, Any]:
        """Run the program on the hook: attach it, or atomically replace ``previous``.

        Journals (``ctx.intend``) every kernel object before creating it, and
        retires what the replaced program leaves behind (an old TC filter).

        :returns: what :meth:`removal` needs later (recorded in the state).
        """

    def removal(self, attach: dict[str, Any]) -> list[Resource]:
        """What to retire to take the program off the hook (released after commit)."""

    def alive(self, attach: dict[str, Any]) -> bool:
        """Whether the recorded attachment is still in the kernel (reconciliation)."""
