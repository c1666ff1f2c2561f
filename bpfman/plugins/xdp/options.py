"""The xdp type's attach options."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from bpfman.dispatcher import XDP, XdpProceedOn, proceed_on_option
from bpfman.dispatcher.proceed_on import normalise
from bpfman.plugin import IFACE, NETNS, PRIORITY, AttachParams, validate


@dataclass(frozen=True)
class XdpParams(AttachParams):
    type_name: ClassVar[str] = "xdp"
    iface: str = field(metadata=IFACE)
    priority: int = field(metadata=PRIORITY)
    proceed_on: tuple[XdpProceedOn, ...] = field(
        default=(), metadata=proceed_on_option(XDP, "--proceed-on pass --proceed-on drop")
    )
    netns: str | None = field(default=None, metadata=NETNS)

    def __post_init__(self) -> None:
        super().__post_init__()
        validate.interface_hook("xdp", self.iface, self.netns)
        normalise(XDP, self.proceed_on)
