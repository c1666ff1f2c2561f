"""Attach kprobes through the kprobe PMU, wrapped in a pinnable bpf_link."""

from __future__ import annotations

from typing import Any

from bpfman import kernel
from bpfman.core.context import AttachContext
from bpfman.core.errors import InvalidInputError, UnsupportedError


def attach(ctx: AttachContext) -> dict[str, Any]:
    fn_name = str(ctx.params["fn_name"])
    offset = int(ctx.params.get("offset") or 0)
    retprobe = bool(ctx.program.plugin_data.get("retprobe"))
    if ctx.params.get("container_pid") is not None:
        raise UnsupportedError("kprobe: --container-pid is not supported; kprobes are system-wide")
    if retprobe and offset:
        raise InvalidInputError("kprobe: --offset is not allowed for kretprobes")
    with (
        ctx.program_fd() as prog,
        kernel.perf_event_kprobe(fn_name, offset, retprobe) as event,
        kernel.link_create_perf_event(prog.fd, event.fd) as link,
    ):
        ctx.pin_link(link)
    return {"fn_name": fn_name, "offset": offset, "container_pid": None, "retprobe": retprobe}
