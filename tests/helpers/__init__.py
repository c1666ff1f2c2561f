"""Helpers shared by bpfman's tests: building the BPF objects, veth pairs in
throwaway namespaces, and reading kernel state from outside with bpftool."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable


def run(args: list[str]) -> str:
    """Run a command and return stdout; failure raises AssertionError with all output."""
    proc = subprocess.run(args, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(args)} exited {proc.returncode}\n"
            f"stdout: {proc.stdout}\nstderr: {proc.stderr}"
        )
    return proc.stdout


def eventually(check: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Poll check until it holds or timeout seconds pass (the kernel frees unpinned
    links and programs asynchronously)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


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
