"""dump xlated and dump jited on real programs, checked against bpftool.

bpftool 7.1 prints the same notation as bpfman (the kernel verifier's), so for
the programs the tests build the listings must match it line for line: same
count, numbering, helper and map names, prototypes and source lines. JITed
code is checked by size against the kernel and for named calls.
"""

from __future__ import annotations

import platform
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bpfman.toolbox import disasm
from tests.helpers import run
from tests.helpers.bpftool import bpftool, prog_show
from tests.helpers.root import Root
from tests.helpers.toolbox import load_program


@pytest.fixture
def programs(root: Root, objects: Path, foreign: int) -> Iterator[dict[str, int]]:
    """Programs covering helpers, kernel functions, subprograms, tail calls,
    inlined map lookups and atomics, plus one bpfman did not load."""
    toolbox = objects / "toolbox.bpf.o"
    yield {
        "xdp_toolbox": load_program(root, toolbox, "xdp:xdp_toolbox"),
        "tc_toolbox": load_program(root, toolbox, "tc:tc_toolbox"),
        "xdp_chain": load_program(root, objects / "xdp_chain.bpf.o", "xdp:xdp_chain"),
        "tracepoint_counter": load_program(
            root, objects / "tracepoint_counter.bpf.o", "tracepoint:tracepoint_counter"
        ),
        "foreign": foreign,
    }


def bpftool_text(prog_id: int, *option: str) -> str:
    return run(["bpftool", "prog", "dump", "xlated", "id", str(prog_id), *option])


def test_xlated_matches_bpftool_instruction_for_instruction(
    root: Root, programs: dict[str, int]
) -> None:
    for name, prog_id in programs.items():
        ours = root.json("dump", "xlated", prog_id)
        theirs = bpftool("prog", "dump", "xlated", "id", str(prog_id))
        assert isinstance(ours, list)
        assert len(ours) == len(theirs), name
        for mine, other in zip(ours, theirs, strict=True):
            assert mine["disasm"] == other["disasm"], (name, mine)
            assert mine.get("src") == other.get("src"), (name, mine)
            assert mine.get("proto") == other.get("proto"), (name, mine)
        # Numbering: 8-byte slots, so LD_IMM64 skips a number, up to the image size.
        last = ours[-1]
        width = 2 if last["disasm"].startswith("(18)") else 1
        assert (last["pc"] + width) * 8 == prog_show(prog_id)["bytes_xlated"], name


@pytest.mark.parametrize("option", [None, "opcodes", "linum"])
def test_xlated_text_is_bpftools(root: Root, programs: dict[str, int], option: str | None) -> None:
    for prog_id in (programs["xdp_toolbox"], programs["tc_toolbox"], programs["foreign"]):
        flags = [f"--{option}"] if option else []
        ours = root.run("dump", "xlated", prog_id, *flags).stdout
        assert ours == bpftool_text(prog_id, *([option] if option else []))


def test_xlated_names_helpers_kernel_functions_subprograms_and_maps(
    root: Root, programs: dict[str, int]
) -> None:
    prog_id = programs["xdp_toolbox"]
    text = root.run("dump", "xlated", prog_id).stdout
    tag = prog_show(prog_id)["tag"]
    map_ids = prog_show(prog_id)["map_ids"]
    assert "call bpf_tail_call#12" in text  # a helper id, named by the kernel's enum
    assert "call bpf_trace_printk#" in text  # a kernel symbol at __bpf_call_base + imm
    assert "call __htab_map_lookup_elem#" in text  # the verifier chose the map's own lookup
    assert "#bpf_prog_" in text and "_swap_macs" in text  # a BPF-to-BPF call
    assert "int swap_macs(struct ethhdr * eth):" in text
    assert "int xdp_toolbox(struct xdp_md * ctx):\n; int xdp_toolbox" in text
    assert any(f"map[id:{m}]" in text for m in map_ids)
    assert tag  # the program's own tag names its main function in jited dumps


def test_xlated_linum_and_opcodes_in_json(root: Root, programs: dict[str, int]) -> None:
    prog_id = programs["tc_toolbox"]
    entries = root.json("dump", "xlated", prog_id, "--linum", "--opcodes")
    assert isinstance(entries, list)
    with_line = [e for e in entries if "src" in e]
    assert with_line and all(e["file"].endswith("toolbox.bpf.c") for e in with_line)
    assert all(isinstance(e["line_num"], int) and e["line_num"] >= 0 for e in with_line)
    raw = bytes.fromhex("".join(e["opcodes"].replace(" ", "") for e in entries))
    assert len(raw) == prog_show(prog_id)["bytes_xlated"]


def test_xlated_output_file_is_bpftools_file(
    root: Root, programs: dict[str, int], tmp_path: Path
) -> None:
    prog_id = programs["xdp_chain"]
    ours, theirs = tmp_path / "ours.bin", tmp_path / "theirs.bin"
    proc = root.run("dump", "xlated", prog_id, "--output-file", ours)
    assert proc.stdout == ""
    run(["bpftool", "prog", "dump", "xlated", "id", str(prog_id), "file", str(theirs)])
    assert ours.read_bytes() == theirs.read_bytes()
    summary = root.json("dump", "xlated", prog_id, "--output-file", ours)
    assert summary == {"file": str(ours), "bytes": len(theirs.read_bytes())}


def test_jited_covers_the_whole_image_function_by_function(
    root: Root, programs: dict[str, int], tmp_path: Path
) -> None:
    for name, prog_id in programs.items():
        info = prog_show(prog_id)
        entries = root.json("dump", "jited", prog_id, "--opcodes")
        assert isinstance(entries, list) and entries, name
        raw = bytes.fromhex("".join(e["opcodes"].replace(" ", "") for e in entries))
        assert len(raw) == info["bytes_jited"], name
        out = tmp_path / f"{name}.bin"
        root.run("dump", "jited", prog_id, "--output-file", out)
        assert out.read_bytes() == raw, name
        functions = list(dict.fromkeys(e["function"] for e in entries))
        assert functions[0] == f"bpf_prog_{info['tag']}_{info['name']}", name
    subprog = root.json("dump", "jited", programs["xdp_toolbox"])
    assert isinstance(subprog, list)
    assert len({e["function"] for e in subprog}) == 2  # main and swap_macs


def test_jited_text_names_call_targets(root: Root, programs: dict[str, int]) -> None:
    text = root.run("dump", "jited", programs["xdp_toolbox"]).stdout
    tag = prog_show(programs["xdp_toolbox"])["tag"]
    assert text.startswith(f"bpf_prog_{tag}_xdp_toolbox:\n   0:\t")
    assert "\n\nbpf_prog_" in text and "_swap_macs:\n" in text  # functions apart
    if platform.machine() == "x86_64":  # arm64 calls helpers through a register
        assert "<bpf_trace_printk>" in text and "<__htab_map_lookup_elem>" in text
        assert "_swap_macs>" in text
    opcodes = root.run("dump", "jited", programs["xdp_toolbox"], "--opcodes").stdout
    assert len(opcodes.splitlines()) > len(text.splitlines())


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["dump", "xlated", "4294967295"], 3, "no program with id 4294967295"),
        (["dump", "jited", "4294967295"], 3, "no program with id 4294967295"),
        (["dump", "xlated", "x"], 2, "is not a number"),
        (["dump", "xlated"], 2, "Missing argument"),
        (["dump", "bogus", "1"], 2, "No such command"),
    ],
)
def test_dump_bad_input_is_one_line(root: Root, args: list[str], code: int, needle: str) -> None:
    line = root.fail(*args)
    assert needle in line
    assert root.run(*args, check=False).returncode == code


def test_dump_to_an_unwritable_file_is_one_line(root: Root, programs: dict[str, int]) -> None:
    line = root.fail("dump", "xlated", programs["xdp_chain"], "--output-file", "/proc/nope/x")
    assert "cannot write instructions file /proc/nope/x" in line


def test_help_of_lazy_commands_matches_the_real_commands() -> None:
    """`bpfman --help` lists the toolbox from a table; it must say what the commands say."""
    from bpfman.cli.lazy import lazy_commands

    for lazy in lazy_commands():
        real = lazy.real()
        assert lazy.get_short_help_str(90) == real.get_short_help_str(90), lazy.name
    listed = subprocess.run(
        [sys.executable, "-m", "bpfman", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for name in ("dump", "run", "profile", "tracelog", "system"):
        assert f"\n  {name} " in listed


# -- the disassembler on instructions no test program contains -------------------
def insn(code: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    regs = (src << 4 | dst) if sys.byteorder == "little" else (dst << 4 | src)
    order = sys.byteorder
    return (
        bytes([code, regs])
        + off.to_bytes(2, order, signed=True)
        + imm.to_bytes(4, order, signed=True)
    )


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (insn(0xBF, 1, 2, off=8), "(bf) r1 = (s8)r2"),  # movsx (ISA v4)
        (insn(0xBC, 1, 2, off=16), "(bc) w1 = (s16)w2"),
        (insn(0x3F, 3, 4, off=1), "(3f) r3 s/= r4"),  # sdiv
        (insn(0x94, 3, off=1, imm=7), "(94) w3 s%= 7"),  # smod
        (insn(0xD7, 2, imm=32), "(d7) r2 = bswap32 r2"),
        (insn(0xDC, 2, imm=16), "(dc) r2 = be16 r2"),
        (insn(0xD4, 2, imm=64), "(d4) r2 = le64 r2"),
        (insn(0x87, 5), "(87) r5 = -r5"),
        (insn(0x91, 1, 2, off=-4), "(91) r1 = *(s8 *)(r2 -4)"),  # ldsx
        (insn(0x06, imm=-3), "(06) gotol pc-3"),
        (insn(0xE5, src=0, off=5), "(e5) may_goto pc+5"),
        (insn(0xBF, 0, 0, off=-1), "(bf) r0 = &(void __percpu *)(r0)"),
        (insn(0xDB, 1, 2, off=8, imm=0x01), "(db) r2 = atomic64_fetch_add((u64 *)(r1 +8), r2)"),
        (insn(0xC3, 1, 2, imm=0xA0), "(c3) lock *(u32 *)(r1 +0) ^= r2"),
        (insn(0xDB, 1, 2, imm=0xF1), "(db) r0 = atomic64_cmpxchg((u64 *)(r1 +0), r0, r2)"),
        (insn(0xC3, 1, 2, imm=0xE1), "(c3) r2 = atomic_xchg((u32 *)(r1 +0), r2)"),
        (insn(0x30, imm=12), "(30) r0 = *(u8 *)skb[12]"),
        (insn(0x40, src=7, imm=2), "(40) r0 = *(u32 *)skb[r7 + 2]"),
        (insn(0x72, 10, off=-8, imm=-1), "(72) *(u8 *)(r10 -8) = -1"),
        (insn(0xC2), "(c2) nospec"),
        (insn(0x5D, 1, 2, off=-7), "(5d) if r1 != r2 goto pc-7"),
        (insn(0xA6, 1, off=3, imm=-1), "(a6) if w1 < 0xffffffff goto pc+3"),
        (insn(0x85, src=2, imm=77), "(85) call kernel-function#77"),
        (insn(0x85, src=1, off=9, imm=1), "(85) call pc+9"),
        (insn(0x18, 3, 4, imm=5), "(18) r3 = subprog[+5]"),
        (insn(0x18, 3, 6, imm=2) + insn(0, imm=16), "(18) r3 = map[idx:2]+16"),
        (insn(0x18, 3, imm=-1) + insn(0, imm=0x12), "(18) r3 = 0x12ffffffff"),
        (insn(0xFF), "(ff) unknown"),
    ],
)
def test_disassembler_notation(raw: bytes, text: str) -> None:
    (decoded,) = disasm.decode(raw)
    assert disasm.text(decoded, disasm.NoNames()) == text
    assert decoded.raw == raw


def test_decode_numbers_ld_imm64_as_two_slots() -> None:
    image = insn(0xB7, 0, imm=1) + insn(0x18, 1, 1, imm=3) + insn(0) + insn(0x95)
    assert [(i.index, len(i.raw)) for i in disasm.decode(image)] == [(0, 8), (1, 16), (3, 8)]


def test_xlated_json_shape() -> None:
    """The JSON keys follow bpftool's where both have the fact (disasm, src, proto)."""
    from bpfman.toolbox.source import SourceLine
    from bpfman.toolbox.xlated import XlatedInsn, render_json

    entry = XlatedInsn(0, "(b7) r0 = 2", insn(0xB7, imm=2), "int f(void * ctx)", None)
    line = SourceLine("return 2;", "f.c", 3, 5)
    with_line = XlatedInsn(1, "(95) exit", insn(0x95), None, line)
    assert render_json([entry, with_line], opcodes=True, linum=True) == [
        {"pc": 0, "proto": "int f(void * ctx)", "disasm": "(b7) r0 = 2",
         "opcodes": "b7 00 00 00 02 00 00 00"},
        {"pc": 1, "src": "return 2;", "file": "f.c", "line_num": 3, "line_col": 5,
         "disasm": "(95) exit", "opcodes": "95 00 00 00 00 00 00 00"},
    ]  # fmt: skip
