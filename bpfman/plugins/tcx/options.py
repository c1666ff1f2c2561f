"""The tcx type's attach options."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from bpfman.plugin import DIRECTION, Direction
from bpfman.plugins.multiprog import InterfaceHookParams


@dataclass(frozen=True)
class TcxParams(InterfaceHookParams):
    type_name: ClassVar[str] = "tcx"
    direction: Direction = field(metadata=DIRECTION)
