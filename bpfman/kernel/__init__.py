"""bpfman's binding to the kernel: libbpf 1.1 through cffi, plus raw syscalls.

Importing this package is cheap: libbpf is dlopened and the FFI built on the
first call that needs them. libbpf never prints; its messages go to the
``bpfman.libbpf`` logger at DEBUG and into the errors raised here.

Names resolve lazily (PEP 562): importing this package costs nothing until a
name is used, so commands that never touch the kernel do not pay for it.
"""

from __future__ import annotations

from bpfman.lazy import lazy_attributes

TYPE_CHECKING = False  # ``list`` imports this package: not typing

if TYPE_CHECKING:
    from bpfman.kernel.attach_types import (
        ATTACH_TYPE,
        BPF_F_AFTER,
        BPF_F_BEFORE,
        BPF_F_ID,
        BPF_F_LINK,
        BPF_F_REPLACE,
        LINK_TYPE,
    )
    from bpfman.kernel.fds import (
        Fd,
        iter_prog_ids,
        link_alive,
        map_fd_by_id,
        obj_get,
        obj_pin,
        prog_fd_by_id,
    )
    from bpfman.kernel.features import probe_prog_type
    from bpfman.kernel.info import (
        LinkInfo,
        MapInfo,
        ProgInfo,
        link_info,
        map_info,
        map_lookup,
        prog_func_btf_id,
        prog_info,
        prog_infos,
    )
    from bpfman.kernel.lib import capture_libbpf_messages
    from bpfman.kernel.links import (
        HookChain,
        link_create,
        link_create_perf_event,
        link_detach,
        link_update,
        prog_query,
        raw_tracepoint_open,
        tcx_chain,
    )
    from bpfman.kernel.names import (
        KERNEL_MAP_TYPES,
        KERNEL_PROG_TYPES,
        PROG_TYPE_FILTERS,
        map_type_name,
        prog_type_name,
        prog_types_named,
    )
    from bpfman.kernel.obj import BpfObject, MapSpec, ProgramSpec
    from bpfman.kernel.perf import (
        PERF_TYPE_HARDWARE,
        PERF_TYPE_SOFTWARE,
        online_cpus,
        perf_event_kprobe,
        perf_event_sampling,
        perf_event_tracepoint,
        perf_event_uprobe,
    )
    from bpfman.kernel.run import ProgRun, ProgRunError, prog_test_run, test_run

_WHERE: dict[str, str] = {
    "ATTACH_TYPE": "bpfman.kernel.attach_types",
    "BPF_F_AFTER": "bpfman.kernel.attach_types",
    "BPF_F_BEFORE": "bpfman.kernel.attach_types",
    "BPF_F_ID": "bpfman.kernel.attach_types",
    "BPF_F_LINK": "bpfman.kernel.attach_types",
    "BPF_F_REPLACE": "bpfman.kernel.attach_types",
    "BpfObject": "bpfman.kernel.obj",
    "Fd": "bpfman.kernel.fds",
    "HookChain": "bpfman.kernel.links",
    "KERNEL_MAP_TYPES": "bpfman.kernel.names",
    "KERNEL_PROG_TYPES": "bpfman.kernel.names",
    "LINK_TYPE": "bpfman.kernel.attach_types",
    "LinkInfo": "bpfman.kernel.info",
    "MapInfo": "bpfman.kernel.info",
    "MapSpec": "bpfman.kernel.obj",
    "PERF_TYPE_HARDWARE": "bpfman.kernel.perf",
    "PERF_TYPE_SOFTWARE": "bpfman.kernel.perf",
    "PROG_TYPE": "bpfman.kernel.types",
    "PROG_TYPE_FILTERS": "bpfman.kernel.names",
    "ProgInfo": "bpfman.kernel.info",
    "ProgRun": "bpfman.kernel.run",
    "ProgRunError": "bpfman.kernel.run",
    "ProgramSpec": "bpfman.kernel.obj",
    "capture_libbpf_messages": "bpfman.kernel.lib",
    "iter_prog_ids": "bpfman.kernel.fds",
    "link_alive": "bpfman.kernel.fds",
    "link_create": "bpfman.kernel.links",
    "link_create_perf_event": "bpfman.kernel.links",
    "link_detach": "bpfman.kernel.links",
    "link_info": "bpfman.kernel.info",
    "link_update": "bpfman.kernel.links",
    "map_fd_by_id": "bpfman.kernel.fds",
    "map_info": "bpfman.kernel.info",
    "map_lookup": "bpfman.kernel.info",
    "map_type_name": "bpfman.kernel.names",
    "obj_get": "bpfman.kernel.fds",
    "online_cpus": "bpfman.kernel.perf",
    "obj_pin": "bpfman.kernel.fds",
    "perf_event_kprobe": "bpfman.kernel.perf",
    "perf_event_sampling": "bpfman.kernel.perf",
    "perf_event_tracepoint": "bpfman.kernel.perf",
    "perf_event_uprobe": "bpfman.kernel.perf",
    "probe_prog_type": "bpfman.kernel.features",
    "prog_fd_by_id": "bpfman.kernel.fds",
    "prog_func_btf_id": "bpfman.kernel.info",
    "prog_info": "bpfman.kernel.info",
    "prog_infos": "bpfman.kernel.info",
    "prog_query": "bpfman.kernel.links",
    "prog_test_run": "bpfman.kernel.run",
    "prog_type_name": "bpfman.kernel.names",
    "prog_types_named": "bpfman.kernel.names",
    "raw_tracepoint_open": "bpfman.kernel.links",
    "tcx_chain": "bpfman.kernel.links",
    "test_run": "bpfman.kernel.run",
}


__getattr__ = lazy_attributes(__name__, _WHERE, globals())


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
    "PERF_TYPE_HARDWARE",
    "PERF_TYPE_SOFTWARE",
    "PROG_TYPE",
    "PROG_TYPE_FILTERS",
    "BpfObject",
    "Fd",
    "HookChain",
    "LinkInfo",
    "MapInfo",
    "MapSpec",
    "ProgInfo",
    "ProgRun",
    "ProgRunError",
    "ProgramSpec",
    "capture_libbpf_messages",
    "iter_prog_ids",
    "link_alive",
    "link_create",
    "link_create_perf_event",
    "link_detach",
    "link_info",
    "link_update",
    "map_fd_by_id",
    "map_info",
    "map_lookup",
    "map_type_name",
    "obj_get",
    "obj_pin",
    "online_cpus",
    "perf_event_kprobe",
    "perf_event_sampling",
    "perf_event_tracepoint",
    "perf_event_uprobe",
    "probe_prog_type",
    "prog_fd_by_id",
    "prog_func_btf_id",
    "prog_info",
    "prog_infos",
    "prog_query",
    "prog_test_run",
    "prog_type_name",
    "prog_types_named",
    "raw_tracepoint_open",
    "tcx_chain",
    "test_run",
]
