"""Static entry-point programs, made loadable.

C programs may declare a BPF program ``static`` (the reference bpfman's own
examples do). libbpf refuses to open such an object ("program ... is static
and not supported"), while the reference's loader accepts it. Before libbpf
sees the object, bpfman rewrites the binding of those function symbols from
local to global in a copy of the ELF image: one byte per program, nothing
else moves (libbpf does not rely on the symbol table listing locals first).
Functions in ``.text`` are subprograms and stay as they are.
"""

import mmap
import struct
from collections.abc import Iterator
from typing import NamedTuple

_ELFCLASS64 = 2
_ORDER = {1: "<", 2: ">"}
_SHT_SYMTAB = 2
_SHF_EXECINSTR = 0x4
_STB_LOCAL, _STB_GLOBAL = 0, 1
_STT_FUNC = 2
_SHDR_SIZE = 64
_SYM_SIZE = 24

Image = bytes | mmap.mmap


class _Section(NamedTuple):
    name: int  # offset in the section-name string table
    kind: int
    flags: int
    offset: int
    size: int
    entsize: int


class _Elf:
    """Just enough of an ELF64 image: section headers and names, bounds-checked
    (anything out of bounds raises ValueError)."""

    def __init__(self, data: Image, order: str) -> None:
        self.data = data
        self.order = order

    def unpack(self, fmt: str, offset: int) -> tuple[int, ...]:
        fmt = self.order + fmt
        if offset < 0 or offset + struct.calcsize(fmt) > len(self.data):
            raise ValueError("out of bounds")
        return struct.unpack_from(fmt, self.data, offset)

    def sections(self) -> list[_Section]:
        (shoff,) = self.unpack("Q", 0x28)
        shentsize, shnum = self.unpack("HH", 0x3A)
        if shentsize != _SHDR_SIZE or shnum == 0:  # 0: extended numbering, not seen in BPF
            raise ValueError("unexpected section header table")
        out = []
        for i in range(shnum):
            name, kind, flags, _addr, offset, size, _link, _info, _align, entsize = self.unpack(
                "IIQQQQIIQQ", shoff + i * _SHDR_SIZE
            )
            out.append(_Section(name, kind, flags, offset, size, entsize))
        return out

    def section_names(self, sections: list[_Section]) -> list[bytes]:
        (shstrndx,) = self.unpack("H", 0x3E)
        if shstrndx >= len(sections):
            raise ValueError("no section-name table")
        table = sections[shstrndx]
        end = table.offset + table.size
        names = []
        for section in sections:
            start = table.offset + section.name
            stop = self.data.find(b"\0", start, end)
            names.append(bytes(self.data[start:stop]) if stop >= 0 else b"")
        return names

    def symbols(self, table: _Section) -> Iterator[tuple[int, int, int]]:
        """(file offset, st_info, st_shndx) of each symbol of symbol table ``table``."""
        count = table.size // _SYM_SIZE
        end = table.offset + count * _SYM_SIZE
        if table.offset < 0 or end > len(self.data):
            raise ValueError("out of bounds")
        rows = struct.iter_unpack(self.order + "IBBHQQ", memoryview(self.data)[table.offset : end])
        for i, (_name, info, _other, shndx, _value, _size) in enumerate(rows):
            yield table.offset + i * _SYM_SIZE, info, shndx


def globalize_static_programs(data: Image) -> bytes | None:
    """A copy of the BPF ELF image ``data`` whose static programs are global.

    None when there is nothing to change, or when the image is not a 64-bit
    ELF this reader understands: libbpf then opens (or refuses) it as given.
    ``data`` may be a read-only mmap of a file: only a changed image is copied.
    """
    if len(data) < 0x40 or data[:4] != b"\x7fELF" or data[4] != _ELFCLASS64:
        return None
    order = _ORDER.get(data[5])
    if order is None:
        return None
    elf = _Elf(data, order)
    try:
        sections = elf.sections()
        names = elf.section_names(sections)
        programs = {
            index
            for index, (section, name) in enumerate(zip(sections, names, strict=True))
            if section.flags & _SHF_EXECINSTR and name != b".text"
        }
        statics = [
            offset
            for table in sections
            if table.kind == _SHT_SYMTAB and table.entsize == _SYM_SIZE
            for offset, info, shndx in elf.symbols(table)
            if info >> 4 == _STB_LOCAL and info & 0xF == _STT_FUNC and shndx in programs
        ]
    except ValueError:  # something out of bounds: leave the image to libbpf
        return None
    if not statics:
        return None
    patched = bytearray(data)
    for offset in statics:
        patched[offset + 4] = _STB_GLOBAL << 4 | _STT_FUNC  # st_info
    return bytes(patched)
