"""The netkit type's attach options."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from bpfman.plugin import AttachParams, validate

DIRECTIONS = ("primary", "peer")


@dataclass(frozen=True)
class NetkitParams(AttachParams):
    type_name: ClassVar[str] = "netkit"
    direction: str
    iface: str
    priority: int
    netns: str | None = None

    def __post_init__(self) -> None:
        validate.choice("netkit", "direction", self.direction, DIRECTIONS)
        validate.iface("netkit", self.iface)
        validate.priority("netkit", self.priority)
        validate.path("netkit", "netns", self.netns)
