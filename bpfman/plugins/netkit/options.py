"""The netkit type's attach options."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from bpfman.plugins.multiprog import InterfaceHookParams


@dataclass(frozen=True)
class NetkitParams(InterfaceHookParams):
    type_name: ClassVar[str] = "netkit"
    directions: ClassVar[tuple[str, ...]] = ("primary", "peer")
