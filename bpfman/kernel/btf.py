"""Reading BTF the kernel holds: a program's own (names, prototypes, source
lines) and vmlinux's (enum values such as the helper ids)."""

from __future__ import annotations

from typing import Any, NamedTuple

from bpfman.errors import KernelError
from bpfman.kernel.fds import Closing
from bpfman.kernel.lib import binding

# BTF_KIND_* (linux/btf.h)
KIND_INT = 1
KIND_PTR = 2
KIND_ARRAY = 3
KIND_STRUCT = 4
KIND_UNION = 5
KIND_ENUM = 6
KIND_FWD = 7
KIND_TYPEDEF = 8
KIND_VOLATILE = 9
KIND_CONST = 10
KIND_RESTRICT = 11
KIND_FUNC = 12
KIND_FUNC_PROTO = 13
KIND_FLOAT = 16
KIND_TYPE_TAG = 18
KIND_ENUM64 = 19


class BtfType(NamedTuple):
    """One BTF type: ``ref`` is the referenced type id (or the size, by kind);
    ``params`` are (name, type id) of a FUNC_PROTO, ``nelems`` an ARRAY's length.

    (A NamedTuple: as a frozen dataclass it cost ``get program`` a millisecond.)"""

    id: int
    kind: int
    name: str
    ref: int
    kflag: bool
    params: tuple[tuple[str, int], ...] = ()
    nelems: int = 0


class Btf(Closing):
    """A BTF object loaded from the kernel; close it (or use ``with``)."""

    def __init__(self, ptr: Any, what: str) -> None:
        self._ptr = ptr
        self.what = what

    @classmethod
    def by_id(cls, btf_id: int) -> Btf:
        """The BTF object with this kernel id (a program's ``btf_id``)."""
        b = binding()
        ptr = b.bpf.btf__load_from_kernel_by_id(btf_id)
        if ptr == b.ffi.NULL:
            raise KernelError(f"load BTF {btf_id}", b.ffi.errno or 1)
        return cls(ptr, f"BTF {btf_id}")

    @classmethod
    def vmlinux(cls) -> Btf:
        """The running kernel's own BTF (/sys/kernel/btf/vmlinux)."""
        b = binding()
        ptr = b.bpf.btf__load_vmlinux_btf()
        if ptr == b.ffi.NULL:
            raise KernelError("load vmlinux BTF", b.ffi.errno or 1)
        return cls(ptr, "vmlinux BTF")

    def close(self) -> None:
        if self._ptr is not None:
            ptr, self._ptr = self._ptr, None
            binding().bpf.btf__free(ptr)

    def string(self, offset: int) -> str:
        """The string at ``offset`` of the string section ("" if out of range)."""
        b = binding()
        ptr = b.bpf.btf__name_by_offset(self._ptr, offset)
        return "" if ptr == b.ffi.NULL else b.ffi.string(ptr).decode("utf-8", "replace")

    def type(self, type_id: int) -> BtfType | None:
        """Type ``type_id``; None for ``void`` (0) and ids past the end."""
        b = binding()
        if type_id <= 0 or type_id >= b.bpf.btf__type_cnt(self._ptr):
            return None
        t = b.bpf.btf__type_by_id(self._ptr, type_id)
        kind = (t.info >> 24) & 0x1F
        vlen = t.info & 0xFFFF
        params: tuple[tuple[str, int], ...] = ()
        nelems = 0
        if kind == KIND_FUNC_PROTO:
            raw = b.ffi.cast("struct btf_param *", t + 1)
            params = tuple((self.string(raw[i].name_off), int(raw[i].type)) for i in range(vlen))
        elif kind == KIND_ARRAY:
            array = b.ffi.cast("struct btf_array *", t + 1)
            return BtfType(type_id, kind, "", int(array.type), False, (), int(array.nelems))
        return BtfType(
            type_id,
            kind,
            self.string(t.name_off),
            int(t.size_or_type),
            bool(t.info >> 31),
            params,
            nelems,
        )

    def enum_values(self, name: str) -> dict[str, int]:
        """The enumerators of ``enum name`` ({} when there is no such enum)."""
        b = binding()
        type_id = b.bpf.btf__find_by_name_kind(self._ptr, name.encode(), KIND_ENUM)
        if type_id < 0:
            return {}
        t = b.bpf.btf__type_by_id(self._ptr, type_id)
        raw = b.ffi.cast("struct btf_enum *", t + 1)
        return {self.string(raw[i].name_off): int(raw[i].val) for i in range(t.info & 0xFFFF)}


def func_name(btf_id: int, type_id: int) -> str | None:
    """The name of BTF FUNC ``type_id`` in kernel BTF object ``btf_id``; None if
    that object is gone or the type is not a named FUNC (a name is best effort)."""
    try:
        with Btf.by_id(btf_id) as btf:
            found = btf.type(type_id)
    except KernelError:
        return None
    return found.name if found is not None and found.kind == KIND_FUNC and found.name else None
