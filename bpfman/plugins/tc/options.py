"""The tc type's attach options."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from bpfman.dispatcher import TC
from bpfman.dispatcher.proceed_on import normalise
from bpfman.plugin import AttachParams, validate

DIRECTIONS = ("ingress", "egress")


@dataclass(frozen=True)
class TcParams(AttachParams):
    type_name: ClassVar[str] = "tc"
    direction: str
    iface: str
    priority: int
    proceed_on: tuple[str, ...] = ()
    netns: str | None = None

    def __post_init__(self) -> None:
        validate.choice("tc", "direction", self.direction, DIRECTIONS)
        validate.interface_hook("tc", self.iface, self.priority, self.netns)
        normalise(TC, self.proceed_on)
