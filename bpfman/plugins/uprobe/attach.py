"""Attach uprobes: resolve the target file and the function's file offset.

With ``--container-pid`` everything -- library lookup, symbol reading and the
perf event's path lookup in the kernel -- happens inside the container's
mount namespace, so its own files are probed.
"""

from __future__ import annotations

import contextlib
from typing import Any

from bpfman.core import kernel
from bpfman.core.context import AttachContext
from bpfman.core.errors import InvalidInputError
from bpfman.core.namespaces import mountns_of

from .resolve import resolve_target
from .symbols import symbol_offset


def attach(ctx: AttachContext) -> dict[str, Any]:
    p = ctx.params
    target = str(p["target"])
    fn_name = p.get("fn_name") or None
    offset = int(p.get("offset") or 0)
    pid = p.get("pid")
    container_pid = p.get("container_pid")
    if pid is not None and pid <= 0:
        raise InvalidInputError(f"uprobe: invalid pid {pid}")
    retprobe = bool(ctx.program.plugin_data.get("retprobe"))
    inside = mountns_of(container_pid) if container_pid is not None else contextlib.nullcontext()
    with ctx.program_fd() as prog, inside:
        path = resolve_target(target, pid)
        file_offset = (symbol_offset(path, fn_name) if fn_name else 0) + offset
        with (
            kernel.perf_event_uprobe(
                path, file_offset, retprobe, -1 if pid is None else pid
            ) as event,
            kernel.link_create_perf_event(prog.fd, event.fd) as link,
        ):
            ctx.pin_link(link)
    return {
        "target": target,
        "path": path,
        "fn_name": fn_name,
        "offset": offset,
        "pid": pid,
        "container_pid": container_pid,
        "retprobe": retprobe,
    }
