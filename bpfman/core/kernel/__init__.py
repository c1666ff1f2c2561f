"""bpfman's binding to the kernel: libbpf 1.1 through cffi, plus raw syscalls.

Importing this package is cheap: libbpf is dlopened and the FFI built on the
first call that needs them. libbpf never prints; its messages go to the
``bpfman.libbpf`` logger at DEBUG and into the errors raised here.
"""

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
