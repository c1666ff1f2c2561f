"""Module attributes resolved on first use (PEP 562), for cheap package imports.

``import bpfman`` and ``import bpfman.kernel`` must cost nothing until a
name is used: ``bpfman --help`` and ``list`` never touch libbpf or plugins.
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False  # typing itself is one of the costs this module avoids
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


def lazy_attributes(
    package: str, where: dict[str, str], into: dict[str, Any]
) -> Callable[[str], Any]:
    """A module ``__getattr__`` importing each name from the module ``where`` names."""

    def getattr_(name: str) -> Any:
        try:
            module = where[name]
        except KeyError:
            raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        value = getattr(importlib.import_module(module), name)
        into[name] = value
        return value

    return getattr_
