"""``dump xlated``: the instructions the kernel runs after verification.

Numbering and count match ``bpftool prog dump xlated``: an instruction's
number is its 8-byte slot, so a 16-byte LD_IMM64 takes two numbers and one
entry. Functions start with their BTF prototype and each line-info record
with its source line.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bpfman.kernel.image import ProgImage
from bpfman.toolbox import disasm
from bpfman.toolbox.disasm import Insn
from bpfman.toolbox.kallsyms import CALL_BASE, KernelSymbols
from bpfman.toolbox.source import ProgramSource, SourceLine

# Helper ids are small; only a call below this bound can be a helper id
# (e.g. the tail call the kernel shows as helper 12).
_HELPER_ID_BOUND = 1 << 12


@dataclass(frozen=True)
class XlatedInsn:
    """One instruction as shown: ``proto``/``src`` when a function or a
    source line starts at it."""

    pc: int
    disasm: str
    raw: bytes
    proto: str | None
    src: SourceLine | None


class KernelNames:
    """Names calls as bpftool does: helper ids by the kernel's enum, other
    targets by kernel symbol (``__bpf_call_base`` + imm, or the JITed
    address of the called BPF function)."""

    def __init__(self, insns: list[Insn], image: ProgImage) -> None:
        self._ksyms = image.jited_ksyms
        self._symbols = KernelSymbols()
        self._base = self._symbols.address(CALL_BASE) or 0
        calls = [i for i in insns if i.code == disasm.JMP | disasm.CALL]
        self._helpers: dict[int, str] = {}
        if any(i.src == 0 and 0 <= i.imm < _HELPER_ID_BOUND for i in calls):
            self._helpers = helper_names()
        self._symbols.resolve(self._target(i) for i in calls)

    def _target(self, insn: Insn) -> int:
        if insn.src == disasm.PSEUDO_CALL and 0 <= insn.imm < len(self._ksyms):
            return self._ksyms[insn.imm]
        return (self._base + insn.imm) & 0xFFFFFFFFFFFFFFFF

    def helper(self, insn: Insn) -> str | None:
        if insn.src == 0 and insn.imm in self._helpers:
            return self._helpers[insn.imm]
        address = self._target(insn)
        return self._symbols.name(address) or f"0x{address:x}"

    def subprog(self, insn: Insn) -> str | None:
        if not self._ksyms:
            return None  # interpreted: no addresses to name
        address = self._target(insn)
        return f"#{self._symbols.name(address) or f'0x{address:x}'}"


def helper_names() -> dict[int, str]:
    """Helper id -> name (``bpf_map_lookup_elem``) from vmlinux's ``enum bpf_func_id``."""
    from bpfman.errors import KernelError
    from bpfman.kernel.btf import Btf

    try:
        with Btf.vmlinux() as btf:
            values = btf.enum_values("bpf_func_id")
    except KernelError:
        return {}
    return {
        value: "bpf_" + name.removeprefix("BPF_FUNC_")
        for name, value in values.items()
        if name.startswith("BPF_FUNC_")
    }


def xlated(image: ProgImage) -> list[XlatedInsn]:
    """Disassemble the translated image with prototypes and source lines."""
    insns = list(disasm.decode(image.xlated))
    names = KernelNames(insns, image)
    funcs = dict(image.funcs)
    lines = sorted(image.lines, key=lambda line: line.insn_off)
    out: list[XlatedInsn] = []
    with ProgramSource(image.btf_id) as source:
        current = -1  # the line-info record in force, as bpftool looks it up
        shown = -1
        for insn in insns:
            while current + 1 < len(lines) and lines[current + 1].insn_off <= insn.index:
                current += 1
            src = None
            if current >= 0 and current != shown:
                shown = current
                src = source.line(lines[current])
            proto = source.prototype(funcs[insn.index]) if insn.index in funcs else None
            out.append(
                XlatedInsn(insn.index, disasm.text(insn, names), insn.raw, proto or None, src)
            )
    return out


def _linum(src: SourceLine) -> str:
    return f" [file:{src.file} line_num:{src.line_num} line_col:{src.column}]"


def render_text(insns: list[XlatedInsn], opcodes: bool, linum: bool) -> str:
    """bpftool's plain layout: ``   0: (b7) r0 = 2`` under ``; source`` lines."""
    out: list[str] = []
    for insn in insns:
        if insn.proto:
            out.append(f"{insn.proto}:")
        if insn.src is not None:
            out.append(f"; {insn.src.text}{_linum(insn.src) if linum else ''}")
        out.append(f"{insn.pc:4d}: {insn.disasm}")
        if opcodes:
            out.append("       " + insn.raw.hex(" "))
    return "\n".join(out)


def render_json(insns: list[XlatedInsn], opcodes: bool, linum: bool) -> list[dict[str, Any]]:
    """One object per instruction: pc, disasm, and proto/src/opcodes when present."""
    out: list[dict[str, Any]] = []
    for insn in insns:
        entry: dict[str, Any] = {"pc": insn.pc}
        if insn.proto:
            entry["proto"] = insn.proto
        if insn.src is not None:
            entry["src"] = insn.src.text
            if linum:
                entry["file"] = insn.src.file
                entry["line_num"] = insn.src.line_num
                entry["line_col"] = insn.src.column
        entry["disasm"] = insn.disasm
        if opcodes:
            entry["opcodes"] = insn.raw.hex(" ")
        out.append(entry)
    return out
