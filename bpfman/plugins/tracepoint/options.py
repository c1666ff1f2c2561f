"""The tracepoint type's attach options."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import ClassVar

from bpfman.plugin import AttachParams, InvalidInputError, option

# A pattern, compiled on first use (re caches it): loads of the type never need it.
_TRACEPOINT = r"^([A-Za-z0-9_]+)/([A-Za-z0-9_]+)$"


def split(tracepoint: str) -> tuple[str, str]:
    """``CATEGORY/NAME`` as its two parts."""
    match = re.match(_TRACEPOINT, tracepoint)
    if match is None:
        raise InvalidInputError(
            f"invalid tracepoint {tracepoint!r}: expected CATEGORY/NAME, "
            "e.g. syscalls/sys_enter_openat"
        )
    return match.group(1), match.group(2)


@dataclass(frozen=True)
class TracepointParams(AttachParams):
    type_name: ClassVar[str] = "tracepoint"
    tracepoint: str = field(
        metadata=option(
            'Required: The tracepoint to attach to.\nExample: --tracepoint "sched/sched_switch"',
            short="-t",
        )
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        split(self.tracepoint)
