"""Attach uprobes: resolve the target file and the function's file offset.

With ``--container-pid`` the library lookup, the symbol reading and the
opening of the file happen inside the container's mount namespace, so its own
files are probed; everything else (bpfman's code, its bpffs) stays on the host.
"""

from __future__ import annotations

import os
from contextlib import nullcontext
from typing import Any

from bpfman import kernel
from bpfman.core.context import AttachContext
from bpfman.core.errors import InvalidInputError
from bpfman.kernel.namespaces import mountns_of

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
    # Only file lookups happen in the container's mount namespace; the kernel
    # reaches the file through our descriptor, and pins stay in bpfman's bpffs.
    inside = mountns_of(container_pid) if container_pid is not None else nullcontext()
    with inside:
        path = resolve_target(target, pid)
        file_offset = (symbol_offset(path, fn_name) if fn_name else 0) + offset
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        with (
            ctx.program_fd() as prog,
            kernel.perf_event_uprobe(
                f"/proc/self/fd/{fd}", file_offset, retprobe, pid or -1
            ) as event,
            kernel.link_create_perf_event(prog.fd, event.fd) as link,
        ):
            ctx.pin_link(link)
    finally:
        os.close(fd)
    return {
        "target": target,
        "path": path,
        "fn_name": fn_name,
        "offset": offset,
        "pid": pid,
        "container_pid": container_pid,
        "retprobe": retprobe,
    }
