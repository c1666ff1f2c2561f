"""lsm takes no attach options: the hook is chosen at load."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from bpfman.plugin import AttachParams


@dataclass(frozen=True)
class LsmParams(AttachParams):
    type_name: ClassVar[str] = "lsm"
