"""Attach a perf_event program: one perf event and one bpf_link per CPU sampled.

A link samples on one CPU (``--cpu``), one process (``--pid``) or every online
CPU. Each perf event gets its own bpf_link, so a bpfman link is a directory of
pins, ``<bpffs>/perf_event/<link id>/cpu<N>`` (or ``pid<PID>``), journaled as one
tree: created whole or not at all, removed whole on detach. The link is
detached once none of those pins is left (removed by hand), or once the
process it samples has exited.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bpfman.plugin import (
    AttachContext,
    DetachContext,
    LinkView,
    NotFoundError,
    ProgramType,
    RecoverContext,
    Resource,
    TypeHandler,
    kernel,
    liveness,
    program_types,
    shown,
)

from .events import EVENTS
from .options import PerfEventParams

PLUGIN_DIR = "perf_event"


class PerfEvent(TypeHandler[PerfEventParams]):
    def attach(self, ctx: AttachContext, params: PerfEventParams) -> dict[str, Any]:
        event = EVENTS[params.event]
        if params.pid is not None:
            targets = [(f"pid{params.pid}", params.pid, -1)]
            cpus: list[int] = []
        else:
            online = kernel.online_cpus()
            if params.cpu is not None and params.cpu not in online:
                raise NotFoundError(
                    f"perf_event: cpu {params.cpu} is not online (online: {cpu_list(online)})"
                )
            cpus = [params.cpu] if params.cpu is not None else online
            targets = [(f"cpu{cpu}", -1, cpu) for cpu in cpus]
        pins = ctx.plugin_dir(PLUGIN_DIR) / str(ctx.link_id)
        ctx.anchor = liveness.pins(str(pins))
        if params.pid is not None:  # its events end with the process
            ctx.anchor.update(liveness.process(params.pid))
        ctx.intend(Resource.tree(pins))
        os.mkdir(pins, 0o700)
        with ctx.program_fd() as prog:
            for pin_name, pid, cpu in targets:
                with (
                    kernel.perf_event_sampling(
                        event.kind,
                        event.config,
                        period=params.period,
                        frequency=params.frequency,
                        pid=pid,
                        cpu=cpu,
                        name=event.name,
                    ) as perf,
                    kernel.link_create_perf_event(prog.fd, perf.fd) as link,
                ):
                    kernel.obj_pin(link.fd, str(pins / pin_name))
        return {**params.to_record(), "event": event.name, "cpus": cpus, "pins": str(pins)}

    def describe(self, recorded: Mapping[str, Any]) -> LinkView:
        event = str(recorded["event"])
        rate = _rate(recorded)
        pid = recorded.get("pid")
        cpus = cpu_list([int(c) for c in recorded.get("cpus") or []])
        where = f"pid {pid}" if pid is not None else f"cpus {cpus}"
        return LinkView(
            f"{event} {rate} {where}",
            [
                ("Event", event),
                ("Rate", rate),
                ("CPUs", cpus if pid is None else "any"),
                ("PID", shown(pid)),
            ],
        )

    def detach(self, ctx: DetachContext) -> None:
        pins = ctx.link.params.get("pins")
        if pins:
            ctx.retire(Resource.tree(pins))

    def reconcile(self, ctx: RecoverContext) -> None:
        recorded = set()
        for link in ctx.links("perf_event"):
            pins = Path(str(link.params.get("pins", "")))
            recorded.add(pins.name)
            if not pins.is_dir() or not any(p.is_file() for p in pins.iterdir()):
                ctx.forget_link(link, f"its perf event links under {pins} are gone")
                ctx.retire(Resource.tree(pins))
        root = ctx.plugin_dir(PLUGIN_DIR)
        for entry in root.iterdir():
            if entry.name not in recorded:
                ctx.note(f"removing {entry}: perf event links of no recorded link")
                ctx.retire(Resource.tree(entry))


PROGRAM_TYPE = ProgramType(
    "perf_event",
    kernel.PROG_TYPE.PERF_EVENT,
    section_prefixes=("perf_event",),
    handler=PerfEvent(),
    attach_help="Install an eBPF program on a hardware or software perf event (sampling).",
)
bpfman_program_types = program_types(PROGRAM_TYPE)


def _rate(recorded: Mapping[str, Any]) -> str:
    if recorded.get("frequency") is not None:
        return f"{recorded['frequency']} Hz"
    return f"1 in {recorded['period']} events"


def cpu_list(cpus: list[int]) -> str:
    """``[0, 1, 2, 5]`` as ``0-2,5`` (the kernel's own CPU list format)."""
    parts: list[str] = []
    start = prev = None
    for cpu in sorted(cpus):
        if prev is not None and cpu == prev + 1:
            prev = cpu
            continue
        if start is not None:
            parts.append(str(start) if start == prev else f"{start}-{prev}")
        start = prev = cpu
    if start is not None:
        parts.append(str(start) if start == prev else f"{start}-{prev}")
    return ",".join(parts)
