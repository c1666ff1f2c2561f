"""The perf_event type's attach options."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from bpfman.plugin import AttachParams, InvalidInputError, option, validate

from .events import EVENTS, NAMES


@dataclass(frozen=True)
class PerfEventParams(AttachParams):
    """One event, sampled by frequency or period, on one CPU, one process or every CPU."""

    type_name: ClassVar[str] = "perf_event"
    event: str = field(
        metadata=option(
            "Required: The event to sample, by the name `perf list` gives it.\n"
            "Example: --event cpu-clock\n\n"
            f"[possible values: {', '.join(NAMES)}]",
            short="-e",
        )
    )
    frequency: int | None = field(
        default=None,
        metadata=option(
            "Samples per second (give this or --period).\nExample: --frequency 99", short="-f"
        ),
    )
    period: int | None = field(
        default=None,
        metadata=option(
            "One sample every N events (give this or --frequency).\nExample: --period 100000"
        ),
    )
    cpu: int | None = field(
        default=None,
        metadata=option(
            "Optional: Sample only on this CPU (every task on it).\n"
            "Without --cpu and --pid, every online CPU is sampled.",
            short="-c",
        ),
    )
    pid: int | None = field(
        default=None,
        metadata=option(
            "Optional: Sample only this process (its task with this PID), on any CPU.",
            short="-p",
        ),
    )

    def __post_init__(self) -> None:
        super().__post_init__()
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
