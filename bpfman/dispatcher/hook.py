"""What a plugin supplies to hook a program (a dispatcher or a lone program) to an interface."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class Installed:
    """What runs on a hook now: the plugin's attach record and the program's pin."""

    attach: dict[str, Any]
    prog_pin: str


class HookOps(Protocol):
    """Kernel operations on one hook (an XDP interface, a TC interface+direction)."""

    def install(self, prog_fd: int, previous: Installed | None) -> dict[str, Any]:
        """Run ``prog_fd`` on the hook: attach it, or atomically replace ``previous``.

        :returns: what :meth:`remove` needs later (recorded in the state).
        """

    def remove(self, attach: dict[str, Any]) -> None:
        """Take the program off the hook; must tolerate a hook that is gone."""
