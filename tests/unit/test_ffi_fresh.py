"""The committed pre-parsed declarations match cdefs.py (``make ffi`` regenerates them)."""

from __future__ import annotations

from pathlib import Path

from bpfman.kernel import build_ffi


def _without_version(text: str) -> str:
    """The generated module minus cffi's format version, which a newer cffi may bump."""
    return "\n".join(line for line in text.splitlines() if "_version =" not in line)


def test_the_shipped_ffi_module_is_fresh(tmp_path: Path) -> None:
    shipped = Path(build_ffi.__file__).with_name("_ffi.py").read_text()
    regenerated = build_ffi.generate(tmp_path).read_text()
    assert _without_version(shipped) == _without_version(regenerated), (
        "bpfman/kernel/_ffi.py is stale: run `make ffi` and commit it"
    )
