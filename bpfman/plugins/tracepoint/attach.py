"""Attach a tracepoint program through a perf event wrapped in a bpf_link."""

from __future__ import annotations

import re
from typing import Any

from bpfman import kernel
from bpfman.core.context import AttachContext
from bpfman.core.errors import InvalidInputError

_TRACEPOINT = re.compile(r"^([A-Za-z0-9_]+)/([A-Za-z0-9_]+)$")


def parse(tracepoint: str) -> tuple[str, str]:
    match = _TRACEPOINT.match(tracepoint)
    if match is None:
        raise InvalidInputError(
            f"invalid tracepoint {tracepoint!r}: expected CATEGORY/NAME, "
            "e.g. syscalls/sys_enter_openat"
        )
    return match.group(1), match.group(2)


def attach(ctx: AttachContext) -> dict[str, Any]:
    tracepoint = str(ctx.params["tracepoint"])
    category, name = parse(tracepoint)
    with (
        ctx.program_fd() as prog,
        kernel.perf_event_tracepoint(category, name) as event,
        kernel.link_create_perf_event(prog.fd, event.fd) as link,
    ):
        ctx.pin_link(link)
    return {"tracepoint": tracepoint}
