"""The netkit type's attach options."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Literal

from bpfman.plugin import option
from bpfman.plugins.multiprog import InterfaceHookParams


@dataclass(frozen=True)
class NetkitParams(InterfaceHookParams):
    type_name: ClassVar[str] = "netkit"
    cli_order: ClassVar[tuple[str, ...]] = ("iface", "direction", "priority", "netns")
    direction: Literal["primary", "peer"] = field(
        metadata=option(
            "Required: primary runs the program on what the primary device sends,\n"
            "peer on what the peer device sends.",
            short="-d",
        )
    )
    iface: str = field(
        metadata=option(
            "Required: The primary device of the netkit pair (for both directions).", short="-i"
        )
    )
