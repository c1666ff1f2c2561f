"""The raw_tracepoint type's attach options."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import ClassVar

from bpfman.plugin import AttachParams, InvalidInputError, option

# Raw tracepoints are named without their category (sched_switch, sys_enter).
_NAME = re.compile(r"^[A-Za-z0-9_]+$")


@dataclass(frozen=True)
class RawTracepointParams(AttachParams):
    type_name: ClassVar[str] = "raw_tracepoint"
    tracepoint: str = field(
        metadata=option(
            "Required: The raw tracepoint to attach to, without its category.\n"
            'Example: --tracepoint "sched_switch"',
            short="-t",
        )
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if not _NAME.match(self.tracepoint):
            raise InvalidInputError(
                f"raw_tracepoint: invalid tracepoint {self.tracepoint!r}: expected a name "
                "without its category, e.g. sched_switch"
            )
