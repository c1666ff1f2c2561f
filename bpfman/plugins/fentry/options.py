"""fentry and fexit take no attach options: the target is chosen at load."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from bpfman.plugin import AttachParams


@dataclass(frozen=True)
class FentryParams(AttachParams):
    type_name: ClassVar[str] = "fentry"


@dataclass(frozen=True)
class FexitParams(AttachParams):
    type_name: ClassVar[str] = "fexit"
