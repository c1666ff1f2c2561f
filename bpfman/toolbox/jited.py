"""``dump jited``: the native code the JIT made, disassembled by capstone.

The image is split into its functions by the kernel's per-function lengths.
Each function is disassembled from offset 0, so jumps read as offsets inside
it, as in bpftool; direct calls are shown at their real kernel address with
the symbol there, found from the function's own address.
"""

from __future__ import annotations

import platform
import re
from dataclasses import dataclass
from typing import Any

from bpfman.errors import UnsupportedError
from bpfman.kernel.image import ProgImage
from bpfman.toolbox.kallsyms import KernelSymbols
from bpfman.toolbox.source import ProgramSource

_ADDRESS = re.compile(r"^#?(0x[0-9a-f]+)$")
_CALLS = {"call", "callq", "bl"}


@dataclass(frozen=True)
class JitedInsn:
    """One native instruction; ``pc`` counts from the start of its function."""

    function: str
    pc: int
    mnemonic: str
    operands: str
    raw: bytes


def _disassembler() -> Any:
    import capstone

    machine = platform.machine()
    if machine in ("x86_64", "AMD64"):
        cs = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
        cs.syntax = capstone.CS_OPT_SYNTAX_ATT  # as objdump and bpftool print it
    elif machine in ("aarch64", "arm64"):
        cs = capstone.Cs(capstone.CS_ARCH_ARM64, capstone.CS_MODE_ARM)
    else:
        raise UnsupportedError(
            f"no disassembler for {machine} JIT code; write the raw bytes with --output-file"
        )
    cs.skipdata = True  # undecodable bytes become .byte lines: nothing is dropped
    return cs


def _functions(image: ProgImage, symbols: KernelSymbols) -> list[tuple[str, int, bytes]]:
    """(name, kernel address, code) of each JITed function, in image order."""
    lens = image.jited_func_lens or [len(image.jited)]
    addresses = image.jited_ksyms or [0] * len(lens)
    symbols.resolve(addresses)
    with ProgramSource(image.btf_id) as source:
        btf_names = [source.func_name(type_id) for _, type_id in sorted(image.funcs)]
    out = []
    start = 0
    for i, length in enumerate(lens):
        address = addresses[i] if i < len(addresses) else 0
        fallback = btf_names[i] if i < len(btf_names) and btf_names[i] else image.name
        name = symbols.name(address) or f"bpf_prog_{image.tag}_{fallback}"
        out.append((name, address, image.jited[start : start + length]))
        start += length
    return out


def jited(image: ProgImage) -> list[JitedInsn]:
    """Every native instruction of the program, function by function."""
    if not image.jited:
        raise UnsupportedError(f"program {image.id} is not JITed (is net.core.bpf_jit_enable 0?)")
    cs = _disassembler()
    symbols = KernelSymbols()
    decoded: list[tuple[str, int, list[tuple[int, int, str, str]], bytes]] = [
        (name, address, list(cs.disasm_lite(code, 0)), code)
        for name, address, code in _functions(image, symbols)
    ]
    targets: dict[tuple[int, int], int] = {}
    for f, (_, address, insns, _) in enumerate(decoded):
        for pc, _, mnemonic, operands in insns:
            match = _ADDRESS.match(operands)
            if address and mnemonic in _CALLS and match:
                targets[f, pc] = (address + int(match.group(1), 16)) & 0xFFFFFFFFFFFFFFFF
    symbols.resolve(targets.values())
    out = []
    for f, (name, _, insns, code) in enumerate(decoded):
        for pc, size, mnemonic, operands in insns:
            target = targets.get((f, pc))
            if target is not None:
                known = symbols.name(target)
                operands = f"0x{target:x}" + (f" <{known}>" if known else "")
            out.append(JitedInsn(name, pc, mnemonic, operands, code[pc : pc + size]))
    return out


def render_text(insns: list[JitedInsn], opcodes: bool) -> str:
    """Each function under its symbol name; ``pc:<tab>mnemonic operands``."""
    out: list[str] = []
    current = None
    for insn in insns:
        if insn.function != current:
            if current is not None:
                out.append("")
            out.append(f"{insn.function}:")
            current = insn.function
        out.append(f"{insn.pc:4x}:\t{insn.mnemonic:<6} {insn.operands}".rstrip())
        if opcodes:
            out.append("\t" + insn.raw.hex(" "))
    return "\n".join(out)


def render_json(insns: list[JitedInsn], opcodes: bool) -> list[dict[str, Any]]:
    """One object per instruction, naming its function."""
    out: list[dict[str, Any]] = []
    for insn in insns:
        entry: dict[str, Any] = {
            "function": insn.function,
            "pc": insn.pc,
            "operation": insn.mnemonic,
            "operands": insn.operands,
        }
        if opcodes:
            entry["opcodes"] = insn.raw.hex(" ")
        out.append(entry)
    return out
