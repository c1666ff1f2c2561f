"""A disassembler for BPF instructions, written from the kernel's ISA document.

The text of each instruction follows the kernel verifier's notation (the one
``bpftool prog dump xlated`` prints): ``(opcode) r1 = *(u32 *)(r2 +4)``. What
an instruction refers to outside itself (helpers, kernel functions,
subprograms) is named by a :class:`Names` the caller supplies, so this module
stays free of kernel access.

Capstone also decodes eBPF, but in its own mnemonic syntax and without the
kernel's pseudo instructions (map references, subprogram calls, ISA v4), so
it cannot produce this notation.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

# Instruction classes (low 3 bits of the opcode).
LD, LDX, ST, STX, ALU, JMP, JMP32, ALU64 = range(8)
# Size (bits 3-4) of load/store classes, and their C types.
_SIZES = {0x00: 32, 0x08: 16, 0x10: 8, 0x18: 64}
# Modes (bits 5-7) of load/store classes.
IMM, ABS, IND, MEM, MEMSX, ATOMIC = 0x00, 0x20, 0x40, 0x60, 0x80, 0xC0
NOSPEC = 0xC0  # in the ST class
# Source bit (bit 3) of ALU/JMP classes.
SRC_X = 0x08
# ALU operations (bits 4-7).
ALU_OPS = {
    0x00: "+=",
    0x10: "-=",
    0x20: "*=",
    0x30: "/=",
    0x40: "|=",
    0x50: "&=",
    0x60: "<<=",
    0x70: ">>=",
    0x90: "%=",
    0xA0: "^=",
    0xB0: "=",
    0xC0: "s>>=",
}
NEG, END, DIV, MOD, MOV = 0x80, 0xD0, 0x30, 0x90, 0xB0
# Jump operations (bits 4-7).
JMP_OPS = {
    0x10: "==",
    0x20: ">",
    0x30: ">=",
    0x40: "&",
    0x50: "!=",
    0x60: "s>",
    0x70: "s>=",
    0xA0: "<",
    0xB0: "<=",
    0xC0: "s<",
    0xD0: "s<=",
}
JA, CALL, EXIT, JCOND = 0x00, 0x80, 0x90, 0xE0
# Atomic operations (the imm of STX|ATOMIC).
FETCH = 0x01
ATOMIC_ALU = {0x00: "add", 0x40: "or", 0x50: "and", 0xA0: "xor"}
XCHG, CMPXCHG, LOAD_ACQ, STORE_REL = 0xE1, 0xF1, 0x100, 0x110
# src_reg of LD_IMM64 and CALL: what imm refers to.
PSEUDO_MAP_FD, PSEUDO_MAP_VALUE, PSEUDO_BTF_ID, PSEUDO_FUNC = 1, 2, 3, 4
PSEUDO_MAP_IDX, PSEUDO_MAP_IDX_VALUE = 5, 6
PSEUDO_CALL, PSEUDO_KFUNC_CALL = 1, 2
# off of ALU64 MOV X with special meaning.
ADDR_SPACE_CAST, PERCPU_ADDR = 1, -1

LD_IMM64 = LD | IMM | 0x18
INSN_SIZE = 8


@dataclass(frozen=True, slots=True)
class Insn:
    """One instruction; a 16-byte LD_IMM64 carries the second half's imm."""

    index: int
    code: int
    dst: int
    src: int
    off: int
    imm: int
    raw: bytes
    imm_hi: int = 0

    @property
    def cls(self) -> int:
        return self.code & 0x07

    @property
    def imm64(self) -> int:
        return ((self.imm_hi & 0xFFFFFFFF) << 32) | (self.imm & 0xFFFFFFFF)


class Names(Protocol):
    """Resolves what calls refer to; None means "no name known"."""

    def helper(self, insn: Insn) -> str | None:
        """Name of a helper or kernel function call (``src`` 0 or 2)."""

    def subprog(self, insn: Insn) -> str | None:
        """Suffix for a BPF-to-BPF call, e.g. ``#bpf_prog_<tag>_<name>``."""


class NoNames:
    """Names nothing: calls show their raw targets."""

    def helper(self, insn: Insn) -> str | None:
        return None

    def subprog(self, insn: Insn) -> str | None:
        return None


def decode(image: bytes) -> Iterator[Insn]:
    """The instructions of an xlated image; LD_IMM64 takes two slots."""
    little = sys.byteorder == "little"
    count = len(image) // INSN_SIZE
    i = 0
    while i < count:
        raw = image[i * INSN_SIZE : (i + 1) * INSN_SIZE]
        regs = raw[1]
        dst, src = (regs & 0x0F, regs >> 4) if little else (regs >> 4, regs & 0x0F)
        off = int.from_bytes(raw[2:4], sys.byteorder, signed=True)
        imm = int.from_bytes(raw[4:8], sys.byteorder, signed=True)
        if raw[0] == LD_IMM64 and i + 1 < count:
            second = image[(i + 1) * INSN_SIZE : (i + 2) * INSN_SIZE]
            hi = int.from_bytes(second[4:8], sys.byteorder, signed=True)
            yield Insn(i, raw[0], dst, src, off, imm, raw + second, hi)
            i += 2
        else:
            yield Insn(i, raw[0], dst, src, off, imm, raw)
            i += 1


def _size(code: int) -> int:
    return _SIZES[code & 0x18]


def _reg(insn: Insn, which: int) -> str:
    return f"{'w' if insn.cls in (ALU, JMP32) else 'r'}{which}"


def _mem(size: int, reg: int, off: int, signed: bool = False) -> str:
    return f"*({'s' if signed else 'u'}{size} *)(r{reg} {off:+d})"


def _alu(insn: Insn) -> str:
    op = insn.code & 0xF0
    dst = _reg(insn, insn.dst)
    if op == END:
        if insn.cls == ALU64:
            return f"r{insn.dst} = bswap{insn.imm} r{insn.dst}"
        order = "be" if insn.code & SRC_X else "le"
        return f"r{insn.dst} = {order}{insn.imm} r{insn.dst}"
    if op == NEG:
        return f"{dst} = -{dst}"
    text = ALU_OPS.get(op)
    if text is None:
        return "unknown"
    if op in (DIV, MOD) and insn.off == 1:
        text = "s" + text
    if insn.code & SRC_X:
        if insn.cls == ALU64 and op == MOV and insn.off == ADDR_SPACE_CAST:
            return (
                f"r{insn.dst} = addr_space_cast(r{insn.src}, "
                f"{(insn.imm >> 16) & 0xFFFF}, {insn.imm & 0xFFFF})"
            )
        if insn.cls == ALU64 and op == MOV and insn.off == PERCPU_ADDR:
            return f"r{insn.dst} = &(void __percpu *)(r{insn.src})"
        cast = f"(s{insn.off})" if op == MOV and insn.off in (8, 16, 32) else ""
        return f"{dst} {text} {cast}{_reg(insn, insn.src)}"
    return f"{dst} {text} {insn.imm}"


def _stx(insn: Insn) -> str:
    size = _size(insn.code)
    mode = insn.code & 0xE0
    if mode == MEM:
        return f"{_mem(size, insn.dst, insn.off)} = r{insn.src}"
    if mode != ATOMIC:
        return "unknown"
    where = f"(u{size} *)(r{insn.dst} {insn.off:+d})"
    bits = "64" if size == 64 else ""
    op = insn.imm & ~FETCH
    if insn.imm in ATOMIC_ALU:
        return f"lock {_mem(size, insn.dst, insn.off)} {ALU_OPS[insn.imm]} r{insn.src}"
    if insn.imm & FETCH and op in ATOMIC_ALU:
        return f"r{insn.src} = atomic{bits}_fetch_{ATOMIC_ALU[op]}({where}, r{insn.src})"
    if insn.imm == CMPXCHG:
        return f"r0 = atomic{bits}_cmpxchg({where}, r0, r{insn.src})"
    if insn.imm == XCHG:
        return f"r{insn.src} = atomic{bits}_xchg({where}, r{insn.src})"
    if insn.imm == LOAD_ACQ:
        return f"r{insn.dst} = load_acquire((u{size} *)(r{insn.src} {insn.off:+d}))"
    if insn.imm == STORE_REL:
        return f"store_release({where}, r{insn.src})"
    return "unknown"


def _ld(insn: Insn) -> str:
    mode = insn.code & 0xE0
    size = _size(insn.code)
    if mode == ABS:
        return f"r0 = *(u{size} *)skb[{insn.imm}]"
    if mode == IND:
        return f"r0 = *(u{size} *)skb[r{insn.src} + {insn.imm}]"
    if insn.code != LD_IMM64:
        return "unknown"
    lo, hi = insn.imm & 0xFFFFFFFF, insn.imm_hi & 0xFFFFFFFF
    if insn.src == PSEUDO_MAP_FD:
        value = f"map[id:{lo}]"
    elif insn.src == PSEUDO_MAP_VALUE:
        value = f"map[id:{lo}][0]+{hi}"
    elif insn.src == PSEUDO_MAP_IDX_VALUE:
        value = f"map[idx:{lo}]+{hi}"
    elif insn.src == PSEUDO_MAP_IDX:
        value = f"map[idx:{lo}]"
    elif insn.src == PSEUDO_FUNC:
        value = f"subprog[{insn.imm:+d}]"
    else:
        value = f"0x{insn.imm64:x}"
    return f"r{insn.dst} = {value}"


def _jmp(insn: Insn, names: Names) -> str:
    op = insn.code & 0xF0
    if insn.cls == JMP and op == CALL:
        if insn.src == PSEUDO_CALL:
            return f"call pc{insn.off:+d}{names.subprog(insn) or ''}"
        name = names.helper(insn)
        if name is None:
            name = "kernel-function" if insn.src == PSEUDO_KFUNC_CALL else "unknown"
        return f"call {name}#{insn.imm}"
    if op == JA:
        return f"gotol pc{insn.imm:+d}" if insn.cls == JMP32 else f"goto pc{insn.off:+d}"
    if insn.cls == JMP and op == JCOND:
        return f"may_goto pc{insn.off:+d}"
    if op == EXIT:
        return "exit"
    text = JMP_OPS.get(op)
    if text is None:
        return "unknown"
    right = _reg(insn, insn.src) if insn.code & SRC_X else f"0x{insn.imm & 0xFFFFFFFF:x}"
    return f"if {_reg(insn, insn.dst)} {text} {right} goto pc{insn.off:+d}"


def text(insn: Insn, names: Names) -> str:
    """The instruction in the verifier's notation, opcode first: ``(b7) r0 = 2``."""
    cls = insn.cls
    if cls in (ALU, ALU64):
        body = _alu(insn)
    elif cls == STX:
        body = _stx(insn)
    elif cls == ST:
        if insn.code & 0xE0 == MEM:
            body = f"{_mem(_size(insn.code), insn.dst, insn.off)} = {insn.imm}"
        elif insn.code & 0xE0 == NOSPEC:
            body = "nospec"
        else:
            body = "unknown"
    elif cls == LDX:
        mode = insn.code & 0xE0
        if mode in (MEM, MEMSX):
            source = _mem(_size(insn.code), insn.src, insn.off, signed=mode == MEMSX)
            body = f"r{insn.dst} = {source}"
        else:
            body = "unknown"
    elif cls == LD:
        body = _ld(insn)
    else:
        body = _jmp(insn, names)
    return f"({insn.code:02x}) {body}"
