"""What a program's BTF says about its code: function prototypes and the
source line of each instruction (line info), in bpftool's notation."""

from __future__ import annotations

from dataclasses import dataclass

from bpfman.kernel import btf as k
from bpfman.kernel.btf import Btf
from bpfman.kernel.fds import Closing
from bpfman.kernel.image import LineInfo


@dataclass(frozen=True)
class SourceLine:
    """A source line (left-trimmed) and where it is."""

    text: str
    file: str
    line_num: int
    column: int


class ProgramSource(Closing):
    """Prototypes and lines of one program; empty when it has no BTF."""

    def __init__(self, btf_id: int) -> None:
        self._btf = Btf.by_id(btf_id) if btf_id else None

    def close(self) -> None:
        if self._btf is not None:
            self._btf.close()

    def func_name(self, type_id: int) -> str:
        """Name of BTF FUNC ``type_id`` ("" if unknown)."""
        t = self._btf.type(type_id) if self._btf else None
        return t.name if t is not None and t.kind == k.KIND_FUNC else ""

    def prototype(self, type_id: int) -> str:
        """``int f(struct xdp_md * ctx)`` for a BTF FUNC ("" if not printable)."""
        if self._btf is None:
            return ""
        try:
            return "".join(self._type(type_id)).strip()
        except _Unprintable:
            return ""

    def line(self, info: LineInfo) -> SourceLine | None:
        """The source line a line-info record points at (None without BTF)."""
        if self._btf is None:
            return None
        # Shown even when empty (compiler-made code has line 0), as bpftool does.
        text = self._btf.string(info.line_off).lstrip()
        return SourceLine(text, self._btf.string(info.file_off), info.line_num, info.column)

    def _type(self, type_id: int) -> list[str]:
        """Pieces of a C type name, bpftool-style: each word followed by a space."""
        assert self._btf is not None
        t = self._btf.type(type_id)
        if t is None:
            return ["void "]
        if t.kind in (k.KIND_INT, k.KIND_TYPEDEF, k.KIND_FLOAT):
            return [f"{t.name} "]
        if t.kind == k.KIND_STRUCT:
            return [f"struct {t.name} "]
        if t.kind == k.KIND_UNION:
            return [f"union {t.name} "]
        if t.kind in (k.KIND_ENUM, k.KIND_ENUM64):
            return [f"enum {t.name} "]
        if t.kind == k.KIND_FWD:
            return [f"{'union' if t.kflag else 'struct'} {t.name} "]
        if t.kind == k.KIND_ARRAY:
            return [*self._type(t.ref), f"[{t.nelems}]"]
        if t.kind == k.KIND_PTR:
            return [*self._type(t.ref), "* "]
        if t.kind in _QUALIFIERS:
            return [_QUALIFIERS[t.kind], *self._type(t.ref)]
        if t.kind == k.KIND_TYPE_TAG:
            return self._type(t.ref)
        if t.kind == k.KIND_FUNC_PROTO:
            return self._func(t, "")
        if t.kind == k.KIND_FUNC:
            proto = self._btf.type(t.ref)
            if proto is None:
                raise _Unprintable
            return self._func(proto, t.name)
        raise _Unprintable

    def _func(self, proto: k.BtfType, name: str) -> list[str]:
        out = [*self._type(proto.ref), f"{name}("]
        for i, (arg_name, arg_type) in enumerate(proto.params):
            if i:
                out.append(", ")
            if arg_type == 0:
                out.append("...")
                continue
            out.extend(self._type(arg_type))
            if arg_name:
                out.append(arg_name)
            elif out[-1].endswith(" "):
                out[-1] = out[-1][:-1]
        out.append(")")
        return out


_QUALIFIERS = {k.KIND_VOLATILE: "volatile ", k.KIND_CONST: "const ", k.KIND_RESTRICT: "restrict "}


class _Unprintable(Exception):
    """A type bpftool's notation has no words for."""
