"""Attach uprobes: resolve the target file and the function's file offset.

Resolving (library lookup, ELF symbol reading) happens before the writers'
lock is taken, so a slow or large target never holds other commands up.
With ``--container-pid`` the lookups and the opening of the file happen in
the container's mount namespace, so its own files are probed; the kernel
reaches the file through our descriptor, and pins stay on the host.

A probe sits on the target file's inode: deleting or replacing the file does
not detach it (it still fires in the processes that map the old file), so
such a link stays attached. A probe of one process (``--pid``) is detached
once that process has exited.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from bpfman.plugin import (
    AttachContext,
    InvalidInputError,
    KernelError,
    LinkView,
    ProgramRecord,
    in_mount_namespace,
    kernel,
    liveness,
    program_types,
    shown,
)
from bpfman.plugins.probe import ProbeHandler, probe_type

from .options import UprobeParams
from .resolve import resolve_target
from .symbols import open_target, symbol_offset

T = TypeVar("T")


def _inside(container_pid: int | None, work: Callable[[], T]) -> T:
    return work() if container_pid is None else in_mount_namespace(container_pid, work)


class Uprobe(ProbeHandler[UprobeParams]):
    retprobe_prefix = "uretprobe"

    def resolve(self, params: UprobeParams, program: ProgramRecord) -> UprobeParams:
        def find() -> tuple[str, int, int]:
            path = resolve_target(params.target, params.pid)
            start = symbol_offset(path, params.fn_name) if params.fn_name else 0
            with open_target(path) as f:
                size = os.fstat(f.fileno()).st_size
            return path, start + params.offset, size

        path, file_offset, size = _inside(params.container_pid, find)
        if file_offset >= size:
            raise InvalidInputError(
                f"uprobe: offset {file_offset:#x} is past the end of {params.target} ({size} bytes)"
            )
        return dataclasses.replace(params, path=path, file_offset=file_offset)

    def attach(self, ctx: AttachContext, params: UprobeParams) -> dict[str, Any]:
        retprobe = bool(ctx.program.plugin_data.get("retprobe"))
        target = _inside(params.container_pid, lambda: open_target(params.path))
        kind = "uretprobe" if retprobe else "uprobe"
        try:
            with (
                ctx.program_fd() as prog,
                kernel.perf_event_uprobe(
                    f"/proc/self/fd/{target.fileno()}",
                    params.file_offset,
                    retprobe,
                    params.pid or -1,
                ) as event,
                kernel.link_create_perf_event(prog.fd, event.fd) as link,
            ):
                ctx.pin_link(link)
        except KernelError as exc:
            raise KernelError(
                f"{kind} on {params.target} at offset {params.file_offset:#x}", exc.errno
            ) from exc
        finally:
            target.close()
        if params.pid:  # a probe of one process fires no more once it exited
            ctx.anchor = liveness.process(params.pid)
        return {
            "target": params.target,
            "path": params.path,
            "fn_name": params.fn_name,
            "offset": params.offset,
            "pid": params.pid,
            "container_pid": params.container_pid,
            "retprobe": retprobe,
        }

    def describe(self, recorded: Mapping[str, Any]) -> LinkView:
        fn_name = recorded.get("fn_name")
        target = str(recorded["target"])
        return LinkView(
            f"{target} {fn_name}" if fn_name else target,
            [
                ("Target", target),
                ("Attach Function", shown(fn_name)),
                ("Offset", str(recorded.get("offset", 0))),
                ("PID", shown(recorded.get("pid"))),
                ("Container PID", shown(recorded.get("container_pid"))),
            ],
        )


PROGRAM_TYPE = probe_type("uprobe", Uprobe())
bpfman_program_types = program_types(PROGRAM_TYPE)
