"""Kernel symbol names by address, from /proc/kallsyms.

The translated image of a program calls helpers and kernel functions by their
offset from ``__bpf_call_base``, and other BPF functions by their JITed
address, so naming them takes the kernel's symbol table. It is read once and
only the addresses asked for are looked up, in one scan.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

KALLSYMS = "/proc/kallsyms"
CALL_BASE = "__bpf_call_base"


class KernelSymbols:
    """Names for kernel addresses; empty when kallsyms is unreadable or
    hides addresses (kptr_restrict)."""

    def __init__(self, path: str = KALLSYMS) -> None:
        try:
            with open(path, encoding="ascii", errors="replace") as f:
                self._text = f.read()
        except OSError:
            self._text = ""
        self._names: dict[int, str] = {}

    def address(self, name: str) -> int | None:
        """Address of symbol ``name``; None if absent or hidden (0)."""
        match = re.search(rf"^([0-9a-f]+) \S {re.escape(name)}$", self._text, re.MULTILINE)
        if match is None or int(match.group(1), 16) == 0:
            return None
        return int(match.group(1), 16)

    def resolve(self, addresses: Iterable[int]) -> None:
        """Look up every address in one scan; later :meth:`name` calls are free."""
        wanted = {f"{a:016x}" for a in addresses if a > 0 and a not in self._names}
        if not wanted or not self._text:
            return
        pattern = re.compile(
            rf"^({'|'.join(sorted(wanted))}) \S (\S+)", re.MULTILINE | re.IGNORECASE
        )
        for match in pattern.finditer(self._text):
            self._names.setdefault(int(match.group(1), 16), match.group(2))

    def name(self, address: int) -> str | None:
        """The symbol at exactly ``address`` (after :meth:`resolve`)."""
        return self._names.get(address)
