"""The tcx type's attach options."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from bpfman.plugins.multiprog import InterfaceHookParams


@dataclass(frozen=True)
class TcxParams(InterfaceHookParams):
    type_name: ClassVar[str] = "tcx"
    directions: ClassVar[tuple[str, ...]] = ("ingress", "egress")
