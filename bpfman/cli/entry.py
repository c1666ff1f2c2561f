"""The ``bpfman`` command's entry point: the click-free fast path, else the full CLI."""

from __future__ import annotations

import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: the click-free fast path for plain ``list`` and ``load file``, else the full CLI."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        from .fast import run

        code = run(args)
        if code is None:
            from .main import main as full

            code = full(args)
    except KeyboardInterrupt:  # while importing, before the command's own handling began
        sys.stderr.write("Error: interrupted\n")
        return 130
    return code
