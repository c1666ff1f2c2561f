"""bpfman's binding to the kernel: libbpf 1.1 through cffi, plus raw syscalls.

Importing this package is cheap: libbpf is dlopened and the FFI built on the
first call that needs them. libbpf never prints; its messages go to the
``bpfman.libbpf`` logger at DEBUG and into the errors raised here.

Names resolve lazily (PEP 562): importing this package costs nothing until a
name is used, so commands that never touch the kernel do not pay for it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bpfman.core.kernel.fds import (
        Fd,
        iter_prog_ids,
        map_fd_by_id,
        obj_get,
        obj_pin,
        prog_fd_by_id,
    )
    from bpfman.core.kernel.info import (
        LinkInfo,
        MapInfo,
        ProgInfo,
        link_info,
        map_info,
        prog_func_btf_id,
        prog_info,
    )
    from bpfman.core.kernel.lib import capture_libbpf_messages
    from bpfman.core.kernel.links import (
        HookChain,
        link_create,
        link_create_perf_event,
        link_detach,
        link_update,
        prog_query,
        raw_tracepoint_open,
        tcx_chain,
    )
    from bpfman.core.kernel.obj import BpfObject, MapSpec, ProgramSpec
    from bpfman.core.kernel.perf import perf_event_kprobe, perf_event_tracepoint, perf_event_uprobe
    from bpfman.core.kernel.run import prog_test_run
    from bpfman.core.kernel.types import (
        ATTACH_TYPE,
        BPF_F_AFTER,
        BPF_F_BEFORE,
        BPF_F_ID,
        BPF_F_LINK,
        BPF_F_REPLACE,
        KERNEL_MAP_TYPES,
        KERNEL_PROG_TYPES,
        LINK_TYPE,
        PROG_TYPE,
        map_type_name,
        probe_prog_type,
        prog_type_name,
    )

_WHERE: dict[str, str] = {
    "ATTACH_TYPE": "bpfman.core.kernel.types",
    "BPF_F_AFTER": "bpfman.core.kernel.types",
    "BPF_F_BEFORE": "bpfman.core.kernel.types",
    "BPF_F_ID": "bpfman.core.kernel.types",
    "BPF_F_LINK": "bpfman.core.kernel.types",
    "BPF_F_REPLACE": "bpfman.core.kernel.types",
    "BpfObject": "bpfman.core.kernel.obj",
    "Fd": "bpfman.core.kernel.fds",
    "HookChain": "bpfman.core.kernel.links",
    "KERNEL_MAP_TYPES": "bpfman.core.kernel.types",
    "KERNEL_PROG_TYPES": "bpfman.core.kernel.types",
    "LINK_TYPE": "bpfman.core.kernel.types",
    "LinkInfo": "bpfman.core.kernel.info",
    "MapInfo": "bpfman.core.kernel.info",
    "MapSpec": "bpfman.core.kernel.obj",
    "PROG_TYPE": "bpfman.core.kernel.types",
    "ProgInfo": "bpfman.core.kernel.info",
    "ProgramSpec": "bpfman.core.kernel.obj",
    "capture_libbpf_messages": "bpfman.core.kernel.lib",
    "iter_prog_ids": "bpfman.core.kernel.fds",
    "link_create": "bpfman.core.kernel.links",
    "link_create_perf_event": "bpfman.core.kernel.links",
    "link_detach": "bpfman.core.kernel.links",
    "link_info": "bpfman.core.kernel.info",
    "link_update": "bpfman.core.kernel.links",
    "map_fd_by_id": "bpfman.core.kernel.fds",
    "map_info": "bpfman.core.kernel.info",
    "map_type_name": "bpfman.core.kernel.types",
    "obj_get": "bpfman.core.kernel.fds",
    "obj_pin": "bpfman.core.kernel.fds",
    "perf_event_kprobe": "bpfman.core.kernel.perf",
    "perf_event_tracepoint": "bpfman.core.kernel.perf",
    "perf_event_uprobe": "bpfman.core.kernel.perf",
    "probe_prog_type": "bpfman.core.kernel.types",
    "prog_fd_by_id": "bpfman.core.kernel.fds",
    "prog_func_btf_id": "bpfman.core.kernel.info",
    "prog_info": "bpfman.core.kernel.info",
    "prog_query": "bpfman.core.kernel.links",
    "prog_test_run": "bpfman.core.kernel.run",
    "prog_type_name": "bpfman.core.kernel.types",
    "raw_tracepoint_open": "bpfman.core.kernel.links",
    "tcx_chain": "bpfman.core.kernel.links",
}


def __getattr__(name: str) -> Any:
    try:
        module = _WHERE[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "ATTACH_TYPE",
    "BPF_F_AFTER",
    "BPF_F_BEFORE",
    "BPF_F_ID",
    "BPF_F_LINK",
    "BPF_F_REPLACE",
    "KERNEL_MAP_TYPES",
    "KERNEL_PROG_TYPES",
    "LINK_TYPE",
    "PROG_TYPE",
    "BpfObject",
    "Fd",
    "HookChain",
    "LinkInfo",
    "MapInfo",
    "MapSpec",
    "ProgInfo",
    "ProgramSpec",
    "capture_libbpf_messages",
    "iter_prog_ids",
    "link_create",
    "link_create_perf_event",
    "link_detach",
    "link_info",
    "link_update",
    "map_fd_by_id",
    "map_info",
    "map_type_name",
    "obj_get",
    "obj_pin",
    "perf_event_kprobe",
    "perf_event_tracepoint",
    "perf_event_uprobe",
    "probe_prog_type",
    "prog_fd_by_id",
    "prog_func_btf_id",
    "prog_info",
    "prog_query",
    "prog_test_run",
    "prog_type_name",
    "raw_tracepoint_open",
    "tcx_chain",
]
