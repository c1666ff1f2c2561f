"""What the kernel says about a loaded program, map or link."""

# No `from __future__ import annotations`: typing.NamedTuple compiles each string
# annotation when it makes the class, and these resolve as they are written.
import os
import time
from collections.abc import Container, Iterator
from datetime import UTC, datetime
from typing import Any, NamedTuple

from bpfman.errors import KernelError, NotFoundError
from bpfman.kernel.errcheck import check, last_errno
from bpfman.kernel.lib import binding
from bpfman.kernel.names import map_type_name, prog_type_name

_BTF_KIND_FUNC = 12
# BPF_OBJ_NAME_LEN less its NUL: the most of a name the kernel keeps.
_NAME_KEPT = 15


# The records below are NamedTuples, not frozen dataclasses: as immutable and as
# comparable, and each command that shows a program makes the classes for a
# quarter of the time.
class ProgInfo(NamedTuple):
    """``struct bpf_prog_info`` in the shape bpfman shows it."""

    id: int
    type: int
    type_name: str
    name: str  # the kernel's 15 characters, or the full name (prog_info's full_name)
    tag: str
    loaded_at: datetime
    gpl_compatible: bool
    map_ids: list[int]
    btf_id: int
    xlated_len: int
    jited: bool
    jited_len: int
    memlock: int
    verified_insns: int
    run_cnt: int  # counted only while BPF statistics are on (bpfman.kernel.stats)
    run_time_ns: int


#: How bpfman writes a load time: ``get program``, bpfctl's ``get`` and bpfman.v1's
#: KernelProgramInfo.loaded_at.
LOADED_AT_FORMAT = "%Y-%m-%dT%H:%M:%S%z"

#: The ProgInfo attributes bpfman's APIs carry as they are (bpfman.v1's KernelProgramInfo,
#: and ``get program -o json`` in the same words), by the name they carry each under.
API_FIELDS = {
    "tag": "tag",
    "gpl_compatible": "gpl_compatible",
    "map_ids": "map_ids",
    "btf_id": "btf_id",
    "bytes_xlated": "xlated_len",
    "jited": "jited",
    "bytes_jited": "jited_len",
    "bytes_memlock": "memlock",
    "verified_insns": "verified_insns",
}


class MapInfo(NamedTuple):
    """The parts of ``struct bpf_map_info`` bpfman uses."""

    id: int
    type_name: str
    name: str
    key_size: int
    value_size: int
    max_entries: int


class LinkInfo(NamedTuple):
    """The common head of ``struct bpf_link_info`` and the first words of its
    per-type part (``words[0]`` is the ifindex of xdp, tcx and netkit links)."""

    id: int
    type: int
    prog_id: int
    words: tuple[int, ...] = ()


def _get_info(fd: int, ctype: str, what: str) -> Any:
    b = binding()
    info = b.ffi.new(f"{ctype} *")
    size = b.ffi.new("__u32 *", b.ffi.sizeof(ctype))
    check(b.bpf.bpf_obj_get_info_by_fd(fd, info, size), f"{what} info")
    return info


# Map ids asked for up front, so that most programs take one info call
# (metrics scrapes ask for every program).
_MAP_IDS_FIRST = 32


def prog_infos(*, skip: Container[int] = (), full_names: bool = False) -> Iterator[ProgInfo]:
    """Every loaded program's facts, by ascending id (one unloaded meanwhile is skipped).

    ``skip``: ids not to ask about (programs whose facts the caller has);
    ``full_names``: as :func:`prog_info`'s ``full_name``.
    """
    from bpfman.kernel.fds import iter_prog_ids, prog_fd_by_id

    for prog_id in iter_prog_ids():
        if prog_id in skip:
            continue
        try:
            with prog_fd_by_id(prog_id) as fd:
                info = prog_info(fd.fd, full_name=full_names)
        except NotFoundError:
            continue
        yield info


def prog_info(fd: int, *, full_name: bool = False) -> ProgInfo:
    """Kernel facts about the program behind ``fd``, map IDs included.

    The kernel keeps 15 characters of a name. With ``full_name``, a name cut
    there is read in full from the program's BTF, as bpftool shows it: the
    name of the BTF FUNC its first func_info record points to. That costs a
    BTF load, so callers that know the name (bpfman's records) do not ask.
    """
    b = binding()
    room = _MAP_IDS_FIRST
    size = b.ffi.new("__u32 *")
    func = b.ffi.new("__u32[2]")  # struct bpf_func_info: insn_off, type_id
    while True:
        ids = b.ffi.new("__u32[]", room)
        info = b.ffi.new("struct bpf_prog_info *")
        info.nr_map_ids = room
        info.map_ids = int(b.ffi.cast("uintptr_t", ids))
        if full_name:
            info.nr_func_info = 1
            info.func_info_rec_size = b.ffi.sizeof(func)
            info.func_info = int(b.ffi.cast("uintptr_t", func))
        size[0] = b.ffi.sizeof("struct bpf_prog_info")
        check(b.bpf.bpf_obj_get_info_by_fd(fd, info, size), "program info")
        count = int(info.nr_map_ids)  # the kernel reports how many there are
        if count <= room:
            break
        room = count
    name = b.ffi.string(info.name).decode("utf-8", "replace")
    if full_name and len(name) == _NAME_KEPT and info.btf_id and info.nr_func_info:
        from bpfman.kernel.btf import func_name  # a BTF reader most commands never need

        name = func_name(int(info.btf_id), int(func[1])) or name
    return ProgInfo(
        id=int(info.id),
        type=int(info.type),
        type_name=prog_type_name(int(info.type)),
        name=name,
        tag=bytes(b.ffi.buffer(info.tag)).hex(),
        loaded_at=_boot_time_to_wall(int(info.load_time)),
        gpl_compatible=bool(info.gpl_compatible & 1),
        map_ids=[int(ids[i]) for i in range(count)],
        btf_id=int(info.btf_id),
        xlated_len=int(info.xlated_prog_len),
        jited=int(info.jited_prog_len) > 0,
        jited_len=int(info.jited_prog_len),
        memlock=fdinfo_memlock(fd),
        verified_insns=int(info.verified_insns),
        run_cnt=int(info.run_cnt),
        run_time_ns=int(info.run_time_ns),
    )


def map_info(fd: int) -> MapInfo:
    """Kernel facts about the map behind ``fd``."""
    b = binding()
    info = _get_info(fd, "struct bpf_map_info", "map")
    return MapInfo(
        id=int(info.id),
        type_name=map_type_name(int(info.type)),
        name=b.ffi.string(info.name).decode("utf-8", "replace"),
        key_size=int(info.key_size),
        value_size=int(info.value_size),
        max_entries=int(info.max_entries),
    )


def link_info(fd: int) -> LinkInfo:
    """Kernel facts about the link behind ``fd``."""
    info = _get_info(fd, "struct bpf_link_info_head", "link")
    words = tuple(int(w) for w in info.words)
    return LinkInfo(id=int(info.id), type=int(info.type), prog_id=int(info.prog_id), words=words)


def map_lookup(fd: int, key: bytes, value_size: int) -> bytes:
    """The value stored under ``key`` in the map behind ``fd``."""
    b = binding()
    value = b.ffi.new("char[]", value_size)
    check(b.bpf.bpf_map_lookup_elem(fd, b.ffi.from_buffer(key), value), "map lookup")
    return bytes(b.ffi.buffer(value, value_size))


def prog_func_btf_id(prog_fd: int, func_name: str) -> int:
    """BTF id of function ``func_name`` in a loaded program's own BTF.

    freplace links name the function they replace this way (a dispatcher's
    ``prog0``...``prog9`` stubs).
    """
    b = binding()
    info = _get_info(prog_fd, "struct bpf_prog_info", "program")
    if not info.btf_id:
        raise NotFoundError(f"program {info.id} has no BTF")
    btf = b.bpf.btf__load_from_kernel_by_id(info.btf_id)
    if btf == b.ffi.NULL:
        raise KernelError(f"load BTF {info.btf_id}", last_errno())
    try:
        type_id = int(b.bpf.btf__find_by_name_kind(btf, func_name.encode(), _BTF_KIND_FUNC))
    finally:
        b.bpf.btf__free(btf)
    if type_id < 0:
        raise NotFoundError(f"function {func_name} not found in program {info.id}")
    return type_id


def fdinfo_memlock(fd: int) -> int:
    """Bytes the kernel charges for the object (``memlock:`` in fdinfo).

    Read with one raw read: metrics scrapes call this for every program and map.
    """
    try:
        info = os.open(f"/proc/self/fdinfo/{fd}", os.O_RDONLY)
        try:
            text = os.read(info, 4096)
        finally:
            os.close(info)
    except OSError:
        return 0
    start = text.find(b"\nmemlock:")
    if start < 0:
        return 0
    end = text.find(b"\n", start + 1)
    try:
        return int(text[start + len(b"\nmemlock:") : end if end > 0 else len(text)])
    except ValueError:
        return 0


def _boot_time_to_wall(ns_since_boot: int) -> datetime:
    """Convert a CLOCK_BOOTTIME stamp to an aware local datetime."""
    boot = time.time() - time.clock_gettime(time.CLOCK_BOOTTIME)
    return datetime.fromtimestamp(boot + ns_since_boot / 1e9, tz=UTC).astimezone()
