"""Which bytecode files go into an image, and the build args describing them.

The architectures, build-arg names and cilium/ebpf file-name rules follow
the reference ``image build``, so Containerfiles written for it work as is.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bpfman.errors import InvalidInputError, NotFoundError
from bpfman.images.elf import bpf_byteorder, check_bytecode


@dataclass(frozen=True)
class Arch:
    """One GOARCH a bytecode image can be built for."""

    goarch: str
    suffix: str  # option and build-arg suffix: "amd64-el" -> --bc-amd64-el, BC_AMD64_EL

    @property
    def option(self) -> str:
        return f"bc-{self.suffix}"

    @property
    def build_arg(self) -> str:
        return "BC_" + self.suffix.upper().replace("-", "_")

    @property
    def byteorder(self) -> str:
        return "big" if self.suffix.endswith("-eb") else "little"


ARCHES = tuple(
    Arch(goarch, f"{goarch}-{order}")
    for goarch, order in (
        ("386", "el"),
        ("amd64", "el"),
        ("arm", "el"),
        ("arm64", "el"),
        ("loong64", "el"),
        ("mips", "eb"),
        ("mipsle", "el"),
        ("mips64", "eb"),
        ("mips64le", "el"),
        ("ppc64", "eb"),
        ("ppc64le", "el"),
        ("riscv64", "el"),
        ("s390x", "eb"),
    )
)
_BY_GOARCH = {a.goarch: a for a in ARCHES}

# cilium/ebpf (bpf2go) file names to GOARCH, tried in order: "arm64" before "arm".
_CILIUM = (
    ("x86", "bpfel", "amd64"),
    ("arm64", "bpfel", "arm64"),
    ("arm", "bpfel", "arm"),
    ("loongarch", "bpfel", "loong64"),
    ("mips", "bpfeb", "mips"),
    ("powerpc", "bpfeb", "ppc64"),
    ("powerpc", "bpfel", "ppc64le"),
    ("riscv", "bpfel", "riscv64"),
    ("s390", "bpfeb", "s390x"),
)


def cilium_goarch(filename: str) -> str | None:
    """The GOARCH a cilium/ebpf object file name stands for, if any."""
    if ".o" not in filename:
        return None
    for needle, order, goarch in _CILIUM:
        if needle in filename and order in filename:
            return goarch
    return None


@dataclass(frozen=True)
class BytecodeSources:
    """The bytecode options of ``image build``/``generate-build-args``.

    Paths are kept as the user typed them, since they are echoed in build
    args that a container build resolves against its context directory.
    """

    bytecode: str | None = None
    cilium_ebpf_project: str | None = None
    per_arch: tuple[tuple[str, str], ...] = ()  # (goarch, path)

    def files(self) -> list[tuple[Arch | None, str]]:
        """(architecture, path) pairs; None for ``-b``, built for the host."""
        given = [
            self.bytecode is not None,
            self.cilium_ebpf_project is not None,
            bool(self.per_arch),
        ]
        if sum(given) != 1:
            raise InvalidInputError(
                "give exactly one of --bytecode, --cilium-ebpf-project or --bc-<arch> options"
            )
        if self.bytecode is not None:
            return [(None, self.bytecode)]
        if self.cilium_ebpf_project is not None:
            return self._cilium_files(self.cilium_ebpf_project)
        files = []
        for goarch, path in self.per_arch:
            if goarch not in _BY_GOARCH:
                raise InvalidInputError(f"unknown bytecode architecture {goarch!r}")
            files.append((_BY_GOARCH[goarch], path))
        return sorted(files, key=lambda f: ARCHES.index(f[0]) if f[0] else -1)

    @staticmethod
    def _cilium_files(directory: str) -> list[tuple[Arch | None, str]]:
        try:
            names = sorted(os.listdir(directory))
        except OSError as e:
            raise NotFoundError(
                f"cannot read cilium/ebpf project {directory}: {e.strerror}"
            ) from None
        found: dict[str, str] = {}
        for name in names:
            goarch = cilium_goarch(name)
            if goarch is not None and goarch not in found:
                found[goarch] = os.path.join(directory, name)
        if not found:
            raise NotFoundError(
                f"no cilium/ebpf bytecode (bpf_<arch>_bpfel.o / _bpfeb.o) in {directory}"
            )
        return [(a, found[a.goarch]) for a in ARCHES if a.goarch in found]


def read_file(path: str) -> bytes:
    """A bytecode file's contents; a missing file is a not-found error."""
    try:
        return Path(path).read_bytes()
    except OSError as e:
        raise NotFoundError(f"cannot read bytecode file {path}: {e.strerror}") from None


def describe_object(
    data: bytes, name: str, infer_type: Callable[[str], str | None]
) -> tuple[dict[str, str], dict[str, str]]:
    """(programs, maps) read from the ELF: function -> bpfman type, map -> map type.

    Programs whose section no installed plugin claims are left out: bpfman
    could not load them anyway. ``.rodata``/``.data``/``.bss`` are not maps
    a user shares, so they are left out too.
    """
    from bpfman.kernel import BpfObject  # the libbpf binding loads lazily

    with BpfObject.open_bytes(data, name) as obj:
        programs = {}
        for prog in obj.programs():
            prog_type = infer_type(prog.section)
            if prog_type is not None:
                programs[prog.name] = prog_type
        maps = {m.name: m.type_name for m in obj.maps() if not m.internal}
    return programs, maps


def labels_source(files: list[tuple[Arch | None, str]]) -> tuple[str, bytes]:
    """Check every file, and pick the one to read programs and maps from.

    That is the first file of the host's byte order, since libbpf cannot open
    objects of the other order.
    """
    checked = []
    for arch, path in files:
        data = read_file(path)
        if arch is None:
            check_bytecode(data, path)
        elif bpf_byteorder(data, path) != arch.byteorder:
            raise InvalidInputError(f"{path}: bytecode of the wrong byte order for --{arch.option}")
        checked.append((path, data))
    for (arch, _), item in zip(files, checked, strict=True):
        if arch is None or arch.byteorder == sys.byteorder:
            return item
    return checked[0]


def generate_build_args(
    sources: BytecodeSources, infer_type: Callable[[str], str | None]
) -> list[str]:
    """``BYTECODE_FILE=``/``BC_<ARCH>=`` lines, then ``PROGRAMS=`` and ``MAPS=``."""
    files = sources.files()
    path, data = labels_source(files)
    programs, maps = describe_object(data, os.path.basename(path), infer_type)
    lines = [f"BYTECODE_FILE={p}" if arch is None else f"{arch.build_arg}={p}" for arch, p in files]
    lines.append("PROGRAMS=" + json.dumps(programs, separators=(",", ":")))
    lines.append("MAPS=" + json.dumps(maps, separators=(",", ":")))
    return lines
