"""The perf_event program type: sampling on a hardware or software event.

``attach ID perf_event --event NAME (--frequency HZ | --period N) [--cpu N | --pid PID]``;
with neither a CPU nor a PID the program samples on every online CPU, one perf
event per CPU, all under one bpfman link.
"""

from __future__ import annotations

from bpfman.plugin import ProgramType, hookimpl, kernel


@hookimpl
def bpfman_program_types() -> list[ProgramType]:
    from .handler import PerfEvent

    return [
        ProgramType(
            "perf_event",
            kernel.PROG_TYPE.PERF_EVENT,
            section_prefixes=("perf_event",),
            handler=PerfEvent(),
            attach_help="Install an eBPF program on a hardware or software perf event (sampling).",
        )
    ]
