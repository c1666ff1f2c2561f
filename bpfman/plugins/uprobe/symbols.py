"""Function name to file offset in an ELF binary, as uprobes need it.

Reads ``.symtab`` and ``.dynsym`` and maps the symbol's virtual address to a
file offset through the loadable segment that contains it.
"""

from __future__ import annotations

import struct

from bpfman.core.errors import InvalidInputError, NotFoundError

_SHT_SYMTAB = 2
_SHT_DYNSYM = 11
_PT_LOAD = 1
_STT_FUNC = 2
_STT_GNU_IFUNC = 10


def symbol_offset(path: str, name: str) -> int:
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise NotFoundError(f"cannot read uprobe target {path}: {exc.strerror}") from None
    if data[:4] != b"\x7fELF" or data[4] != 2:
        raise InvalidInputError(f"uprobe target {path} is not a 64-bit ELF file")
    end = "<" if data[5] == 1 else ">"
    (phoff, shoff) = struct.unpack_from(end + "QQ", data, 0x20)
    phentsize, phnum, shentsize, shnum = struct.unpack_from(end + "HHHH", data, 0x36)
    address = _find_symbol(data, end, shoff, shentsize, shnum, name)
    if address is None:
        raise NotFoundError(f"function {name} not found in {path}")
    for i in range(phnum):
        p_type, _, p_offset, p_vaddr, _, p_filesz = struct.unpack_from(
            end + "IIQQQQ", data, phoff + i * phentsize
        )
        if p_type == _PT_LOAD and p_vaddr <= address < p_vaddr + p_filesz:
            return int(address - p_vaddr + p_offset)
    return address


def _find_symbol(
    data: bytes, end: str, shoff: int, shentsize: int, shnum: int, name: str
) -> int | None:
    sections = [
        struct.unpack_from(end + "IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)
    ]
    wanted = name.encode()
    for sh in sections:
        sh_type, sh_offset, sh_size, sh_link, sh_entsize = sh[1], sh[4], sh[5], sh[6], sh[9]
        if sh_type not in (_SHT_SYMTAB, _SHT_DYNSYM) or not sh_entsize:
            continue
        strtab = sections[sh_link][4]
        for at in range(sh_offset, sh_offset + sh_size, sh_entsize):
            st_name, st_info, _, shndx, st_value, _ = struct.unpack_from(end + "IBBHQQ", data, at)
            if st_value == 0 or shndx == 0 or (st_info & 0xF) not in (_STT_FUNC, _STT_GNU_IFUNC):
                continue
            stop = data.index(b"\0", strtab + st_name)
            symbol = data[strtab + st_name : stop]
            if symbol == wanted or symbol.split(b"@")[0] == wanted:
                return int(st_value)
    return None
