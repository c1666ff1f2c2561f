"""Helpers shared by bpfman's tests: building the BPF objects, veth pairs in
throwaway namespaces, and reading kernel state from outside with bpftool."""

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
