"""Image pieces on real bytecode compiled here: ELF checks and build arguments."""

from __future__ import annotations

from pathlib import Path

import pytest

from bpfman.errors import ImageError, InvalidInputError, NotFoundError
from bpfman.images import BytecodeSources, generate_build_args
from bpfman.images.elf import check_bytecode
from tests.helpers.registry import infer_type


def test_elf_checks(image_objects: dict[str, Path]) -> None:
    check_bytecode(image_objects["xdp"].read_bytes(), "x")
    with pytest.raises(ImageError, match="big-endian but this host is little-endian"):
        check_bytecode(image_objects["be"].read_bytes(), "img")


def test_generate_build_args_single(image_objects: dict[str, Path]) -> None:
    lines = generate_build_args(BytecodeSources(bytecode=str(image_objects["xdp"])), infer_type)
    assert lines == [
        f"BYTECODE_FILE={image_objects['xdp']}",
        'PROGRAMS={"xdp_stats":"xdp","stats":"tc"}',
        'MAPS={"xdp_stats_map":"per_cpu_array"}',
    ]
    lines = generate_build_args(BytecodeSources(bytecode=str(image_objects["tp"])), infer_type)
    assert lines[1:] == [
        'PROGRAMS={"tracepoint_kill_recorder":"tracepoint","my_kretprobe":"kprobe"}',
        'MAPS={"kill_map":"hash"}',
    ]


def test_generate_build_args_cilium(tmp_path: Path, image_objects: dict[str, Path]) -> None:
    project = tmp_path / "proj"
    project.mkdir()
    for name in ("bpf_x86_bpfel.o", "bpf_arm64_bpfel.o", "bpf_powerpc_bpfel.o"):
        (project / name).write_bytes(image_objects["xdp"].read_bytes())
    (project / "bpf_s390_bpfeb.o").write_bytes(image_objects["be"].read_bytes())
    (project / "main.go").write_text("package main\n")
    lines = generate_build_args(BytecodeSources(cilium_ebpf_project=f"{project}/"), infer_type)
    assert lines == [
        f"BC_AMD64_EL={project}/bpf_x86_bpfel.o",
        f"BC_ARM64_EL={project}/bpf_arm64_bpfel.o",
        f"BC_PPC64LE_EL={project}/bpf_powerpc_bpfel.o",
        f"BC_S390X_EB={project}/bpf_s390_bpfeb.o",
        'PROGRAMS={"xdp_stats":"xdp","stats":"tc"}',
        'MAPS={"xdp_stats_map":"per_cpu_array"}',
    ]


def test_generate_build_args_errors(image_objects: dict[str, Path], tmp_path: Path) -> None:
    xdp, be = str(image_objects["xdp"]), str(image_objects["be"])
    with pytest.raises(InvalidInputError, match="exactly one"):
        generate_build_args(BytecodeSources(), infer_type)
    with pytest.raises(InvalidInputError, match="exactly one"):
        generate_build_args(BytecodeSources(bytecode=xdp, per_arch=(("arm64", xdp),)), infer_type)
    with pytest.raises(InvalidInputError, match="wrong byte order for --bc-s390x-eb"):
        generate_build_args(BytecodeSources(per_arch=(("s390x", xdp),)), infer_type)
    with pytest.raises(ImageError, match="big-endian"):
        generate_build_args(BytecodeSources(bytecode=be), infer_type)
    with pytest.raises(NotFoundError, match="cannot read bytecode file"):
        generate_build_args(BytecodeSources(bytecode=str(tmp_path / "nope.o")), infer_type)
    with pytest.raises(NotFoundError, match="no cilium/ebpf bytecode"):
        generate_build_args(BytecodeSources(cilium_ebpf_project=str(tmp_path)), infer_type)
