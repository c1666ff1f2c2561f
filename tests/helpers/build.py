"""Build the BPF test programs: bpf/ once per test process, or C source given inline."""

from __future__ import annotations

import functools
import pathlib
import platform

from tests.helpers import run

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
BUILD_DIR = REPO_ROOT / "build" / "bpf"


@functools.cache
def bpf_objects() -> pathlib.Path:
    """Run `make -C bpf` (incremental) and return the directory holding the objects."""
    run(["make", "-C", str(REPO_ROOT / "bpf"), f"OUT={BUILD_DIR}"])
    return BUILD_DIR


def bpf_object(name: str) -> pathlib.Path:
    """Path of a built test program, e.g. bpf_object("tcx_chain") -> .../tcx_chain.bpf.o."""
    path = bpf_objects() / f"{name}.bpf.o"
    if not path.is_file():
        raise AssertionError(f"{path} was not built: is there a bpf/{name}.bpf.c?")
    return path


def compile_bpf(source: str, out: pathlib.Path, target: str = "bpf") -> pathlib.Path:
    """Compile C ``source`` to ``out`` (``target`` bpfeb for a big-endian object)."""
    src = out.with_suffix(".c")
    src.write_text(source)
    include = f"-I/usr/include/{platform.machine()}-linux-gnu"
    run(["clang", "-O2", "-g", "-target", target, include, "-c", str(src), "-o", str(out)])
    return out


class LazyObjects:
    """Inline C programs compiled into ``where`` on first use, by name.

    A module's tests each need one or two of its programs; inside the VM lane's
    emulated guests a clang run takes many seconds, so nothing unused is compiled.
    """

    def __init__(self, where: pathlib.Path, sources: dict[str, str]) -> None:
        self.where = where
        self.sources = sources
        self.built: dict[str, pathlib.Path] = {}

    def __getitem__(self, name: str) -> pathlib.Path:
        if name not in self.built:
            self.built[name] = compile_bpf(self.sources[name], self.where / f"{name}.bpf.o")
        return self.built[name]
