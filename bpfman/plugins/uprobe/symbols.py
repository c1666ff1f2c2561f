"""Function name to file offset in an ELF binary, as uprobes need it.

pyelftools reads the file through seeks, never whole, so a huge or endless
target costs no memory; the target must be a regular file below a size
bound. The symbol's virtual address maps to a file offset through the
loadable segment that contains it.
"""

from __future__ import annotations

import os
import stat
from typing import Any

from bpfman.plugin import InvalidInputError, NotFoundError

MAX_TARGET_BYTES = 4 << 30
_FUNCTION_TYPES = ("STT_FUNC", "STT_GNU_IFUNC")


def open_target(path: str) -> Any:
    """Open a uprobe target for reading: a regular file, within the size bound."""
    try:
        # O_NONBLOCK: a FIFO swapped in after the checks must not block root here
        # (it does nothing to reads of a regular file).
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise NotFoundError(f"cannot read uprobe target {path}: {exc.strerror}") from None
    f = os.fdopen(fd, "rb")
    st = os.fstat(f.fileno())
    if not stat.S_ISREG(st.st_mode):
        f.close()
        raise InvalidInputError(f"uprobe target {path} is not a regular file")
    if st.st_size > MAX_TARGET_BYTES:
        f.close()
        raise InvalidInputError(
            f"uprobe target {path} is {st.st_size} bytes, more than the {MAX_TARGET_BYTES} allowed"
        )
    return f


def symbol_offset(path: str, name: str) -> int:
    """The file offset of function ``name`` in the ELF file at ``path``."""
    from elftools.elf.elffile import ELFFile
    from elftools.elf.sections import SymbolTableSection

    with open_target(path) as f:
        try:
            elf = ELFFile(f)
            address = None
            for section in elf.iter_sections():
                if not isinstance(section, SymbolTableSection):
                    continue
                for symbol in section.iter_symbols():
                    entry = symbol.entry
                    if (
                        entry.st_value
                        and entry.st_shndx != "SHN_UNDEF"
                        and entry.st_info.type in _FUNCTION_TYPES
                        and symbol.name.split("@")[0] == name
                    ):
                        address = int(entry.st_value)
                        break
                if address is not None:
                    break
            if address is None:
                raise NotFoundError(f"function {name} not found in {path}")
            for segment in elf.iter_segments():
                h = segment.header
                if h.p_type == "PT_LOAD" and h.p_vaddr <= address < h.p_vaddr + h.p_filesz:
                    return int(address - h.p_vaddr + h.p_offset)
            return address
        except NotFoundError:
            raise
        except Exception as exc:  # hostile input: pyelftools raises many kinds on bad ELF
            raise InvalidInputError(
                f"uprobe target {path} is not a valid ELF file ({type(exc).__name__}: {exc})"
            ) from None
