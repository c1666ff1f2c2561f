"""The perf_event type's attach options."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from bpfman.plugin import AttachParams, InvalidInputError, validate

from .events import EVENTS, NAMES


@dataclass(frozen=True)
class PerfEventParams(AttachParams):
    """One event, sampled by frequency or period, on one CPU, one process or every CPU."""

    type_name: ClassVar[str] = "perf_event"
    event: str
    frequency: int | None = None
    period: int | None = None
    cpu: int | None = None
    pid: int | None = None

    def __post_init__(self) -> None:
        if self.event not in EVENTS:
            raise InvalidInputError(
                f"perf_event: unknown event {self.event!r} (possible values: {', '.join(NAMES)})"
            )
        if (self.frequency is None) == (self.period is None):
            raise InvalidInputError("perf_event: give exactly one of --frequency and --period")
        validate.positive("perf_event", "frequency", self.frequency)
        validate.positive("perf_event", "period", self.period)
        if self.period is not None:
            validate.u64("perf_event", "period", self.period)
        if self.cpu is not None and self.pid is not None:
            raise InvalidInputError("perf_event: give --cpu or --pid, not both")
        if self.cpu is not None and self.cpu < 0:
            raise InvalidInputError(f"perf_event: invalid cpu {self.cpu}: must be 0 or more")
        validate.positive("perf_event", "pid", self.pid)
