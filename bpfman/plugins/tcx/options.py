"""The tcx type's attach options."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from bpfman.plugin import AttachParams, validate

DIRECTIONS = ("ingress", "egress")


@dataclass(frozen=True)
class TcxParams(AttachParams):
    type_name: ClassVar[str] = "tcx"
    direction: str
    iface: str
    priority: int
    netns: str | None = None

    def __post_init__(self) -> None:
        validate.choice("tcx", "direction", self.direction, DIRECTIONS)
        validate.interface_hook("tcx", self.iface, self.priority, self.netns)
