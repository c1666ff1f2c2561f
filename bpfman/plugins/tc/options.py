"""The tc type's attach options."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from bpfman.dispatcher import TC, TcProceedOn, proceed_on_option
from bpfman.dispatcher.proceed_on import normalise
from bpfman.plugin import DIRECTION, IFACE, NETNS, PRIORITY, AttachParams, Direction, validate


@dataclass(frozen=True)
class TcParams(AttachParams):
    type_name: ClassVar[str] = "tc"
    direction: Direction = field(metadata=DIRECTION)
    iface: str = field(metadata=IFACE)
    priority: int = field(metadata=PRIORITY)
    proceed_on: tuple[TcProceedOn, ...] = field(
        default=(), metadata=proceed_on_option(TC, "--proceed-on ok --proceed-on pipe")
    )
    netns: str | None = field(default=None, metadata=NETNS)

    def __post_init__(self) -> None:
        super().__post_init__()
        validate.interface_hook("tc", self.iface, self.netns)
        normalise(TC, self.proceed_on)
