"""A loaded program's instructions as the kernel hands them out.

``bpf_prog_info`` is asked twice: once for the sizes, then with buffers for
the translated (xlated) and JITed images and the records that explain them
(function and line info, one kernel symbol address and length per JITed
function). The kernel rewrites map references in the xlated image to map ids.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

from bpfman.kernel.errcheck import check
from bpfman.kernel.lib import binding
from bpfman.kernel.names import prog_type_name


@dataclass(frozen=True)
class LineInfo:
    """``struct bpf_line_info``: where instruction ``insn_off`` comes from.

    ``file_off``/``line_off`` index the program's BTF strings.
    """

    insn_off: int
    file_off: int
    line_off: int
    line_num: int
    column: int


@dataclass(frozen=True)
class ProgImage:
    """What ``dump xlated`` and ``dump jited`` show of one program."""

    id: int
    name: str
    tag: str
    type_name: str
    btf_id: int
    xlated: bytes
    jited: bytes
    funcs: list[tuple[int, int]]  # (first instruction, BTF FUNC type id)
    lines: list[LineInfo]
    jited_ksyms: list[int]  # start address of each JITed function
    jited_func_lens: list[int]


def prog_image(fd: int) -> ProgImage:
    """Read the program behind ``fd``: both images and their debug records."""
    b = binding()
    ffi = b.ffi
    size = ffi.new("__u32 *", ffi.sizeof("struct bpf_prog_info"))
    sizes = ffi.new("struct bpf_prog_info *")
    check(b.bpf.bpf_obj_get_info_by_fd(fd, sizes, size), "program info")

    info = ffi.new("struct bpf_prog_info *")
    keep: list[Any] = []

    def buffer(count: int, ctype: str) -> int:
        buf = ffi.new(f"{ctype}[]", max(count, 1))
        keep.append(buf)
        return int(ffi.cast("uintptr_t", buf))

    info.xlated_prog_len = sizes.xlated_prog_len
    info.xlated_prog_insns = buffer(sizes.xlated_prog_len, "__u8")
    info.jited_prog_len = sizes.jited_prog_len
    info.jited_prog_insns = buffer(sizes.jited_prog_len, "__u8")
    info.nr_func_info = sizes.nr_func_info
    info.func_info_rec_size = sizes.func_info_rec_size
    info.func_info = buffer(sizes.nr_func_info * sizes.func_info_rec_size, "__u8")
    info.nr_line_info = sizes.nr_line_info
    info.line_info_rec_size = sizes.line_info_rec_size
    info.line_info = buffer(sizes.nr_line_info * sizes.line_info_rec_size, "__u8")
    info.nr_jited_ksyms = sizes.nr_jited_ksyms
    info.jited_ksyms = buffer(sizes.nr_jited_ksyms, "__u64")
    info.nr_jited_func_lens = sizes.nr_jited_func_lens
    info.jited_func_lens = buffer(sizes.nr_jited_func_lens, "__u32")
    size[0] = ffi.sizeof("struct bpf_prog_info")
    check(b.bpf.bpf_obj_get_info_by_fd(fd, info, size), "program instructions")

    def raw(address: int, length: int) -> bytes:
        return bytes(ffi.buffer(ffi.cast("char *", address), length)) if length else b""

    func_size = int(info.func_info_rec_size)
    func_raw = raw(info.func_info, int(info.nr_func_info) * func_size)
    funcs = [
        (_u32(func_raw, i * func_size), _u32(func_raw, i * func_size + 4))
        for i in range(int(info.nr_func_info))
    ]
    line_size = int(info.line_info_rec_size)
    line_raw = raw(info.line_info, int(info.nr_line_info) * line_size)
    lines = []
    for i in range(int(info.nr_line_info)):
        at = i * line_size
        line_col = _u32(line_raw, at + 12)
        lines.append(
            LineInfo(
                _u32(line_raw, at),
                _u32(line_raw, at + 4),
                _u32(line_raw, at + 8),
                line_col >> 10,
                line_col & 0x3FF,
            )
        )
    ksyms = ffi.cast("__u64 *", info.jited_ksyms)
    lens = ffi.cast("__u32 *", info.jited_func_lens)
    return ProgImage(
        id=int(info.id),
        name=ffi.string(info.name).decode("utf-8", "replace"),
        tag=bytes(ffi.buffer(info.tag)).hex(),
        type_name=prog_type_name(int(info.type)),
        btf_id=int(info.btf_id),
        xlated=raw(info.xlated_prog_insns, int(info.xlated_prog_len)),
        jited=raw(info.jited_prog_insns, int(info.jited_prog_len)),
        funcs=funcs,
        lines=lines,
        jited_ksyms=[int(ksyms[i]) for i in range(int(info.nr_jited_ksyms))],
        jited_func_lens=[int(lens[i]) for i in range(int(info.nr_jited_func_lens))],
    )


def _u32(data: bytes, offset: int) -> int:
    return int.from_bytes(data[offset : offset + 4], sys.byteorder)
