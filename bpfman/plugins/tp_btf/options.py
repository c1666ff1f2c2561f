"""tp_btf takes no attach options: the tracepoint is chosen at load."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from bpfman.plugin import AttachParams


@dataclass(frozen=True)
class TpBtfParams(AttachParams):
    type_name: ClassVar[str] = "tp_btf"
