"""Helpers shared by bpfman's tests; tests import them from here, never from conftest.

- root: an isolated bpfman root driving the real CLI (``Root``, ``REPO``, ``BPFMAN``)
- wait: ``eventually``, for what the kernel does asynchronously
- build: the BPF test programs, from bpf/ or inline C
- net: veth pairs in throwaway namespaces, and real traffic across them
- bpftool, bpffs: kernel state read from outside bpfman, private bpffs mounts
- chains: xdp/tc/tcx chain programs sharing maps; dispatcher paths
- consistency: do kernel, bpffs and state agree (after crashes and attacks)
- container: a process with files only its mount namespace sees
- registry: a real OCI registry, signing keys and small image objects
- raises: bpfman's one-line errors expected by their exact text
- sandbox: a shell whose file changes vanish with it (make install, default root)
- agent, pod: bpfman's image under podman as bpfman-operator's pod runs it, and a
  client in its agent's place

conftest.py holds the run rules and the fixtures built on these.
"""

from __future__ import annotations

import subprocess


def run(args: list[str]) -> str:
    """Run a command and return stdout; failure raises AssertionError with all output."""
    proc = subprocess.run(args, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(args)} exited {proc.returncode}\n"
            f"stdout: {proc.stdout}\nstderr: {proc.stderr}"
        )
    return proc.stdout


def u32_hex(value: int) -> str:
    """A u32 global as ``-g`` wants it: little-endian plain hex."""
    return value.to_bytes(4, "little").hex()


def u64_hex(value: int) -> str:
    """A u64 global as ``-g`` wants it: little-endian plain hex."""
    return value.to_bytes(8, "little").hex()


def shown_rows(text: str) -> dict[str, str]:
    """The ``Label: value`` rows of a ``get`` block, whatever their alignment."""
    rows: dict[str, str] = {}
    for line in text.splitlines():
        label, sep, value = line.strip().partition(":")
        if sep and label and not label.startswith("-"):
            rows.setdefault(label.strip(), value.strip())
    return rows
