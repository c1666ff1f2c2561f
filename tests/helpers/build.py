"""Build the BPF test programs in bpf/ once per test process."""

from __future__ import annotations

import functools
import pathlib

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
