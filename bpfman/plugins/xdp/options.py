"""The xdp type's attach options."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from bpfman.dispatcher import XDP
from bpfman.dispatcher.proceed_on import normalise
from bpfman.plugin import AttachParams, validate


@dataclass(frozen=True)
class XdpParams(AttachParams):
    type_name: ClassVar[str] = "xdp"
    iface: str
    priority: int
    proceed_on: tuple[str, ...] = ()
    netns: str | None = None

    def __post_init__(self) -> None:
        validate.interface_hook("xdp", self.iface, self.priority, self.netns)
        normalise(XDP, self.proceed_on)
