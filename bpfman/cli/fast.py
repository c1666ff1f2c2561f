"""``list programs`` and ``list links`` without click.

These are the commands scripts run in loops, and click alone costs more than
the Python interpreter's start. Only plain, well-formed invocations take this
path; anything else (help, unknown flags, missing values) returns None and
goes to the full CLI, which owns the messages.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from .app import App, guarded

_LISTS = {"programs": "programs", "program": "programs", "links": "links", "link": "links"}
_VALUES = {
    "-p": "program_type",
    "--program-type": "program_type",
    "--application": "application",
    "-m": "metadata_selector",
    "--metadata-selector": "metadata_selector",
    "-o": "output",
    "--output": "output",
}


def run(argv: Sequence[str]) -> int | None:
    """Handle ``[--root DIR] list programs|links [filters]``; None: not for us."""
    args = list(argv)
    root = os.environ.get("BPFMAN_ROOT") or None
    if args[:1] == ["--root"] and len(args) > 1:
        root, args = args[1], args[2:]
    if len(args) < 2 or args[0] != "list" or args[1] not in _LISTS:
        return None
    what = _LISTS[args[1]]
    options: dict[str, str] = {}
    selectors: list[str] = []
    all_ = False
    rest = args[2:]
    while rest:
        flag = rest.pop(0)
        if flag in ("-a", "--all") and what == "programs":
            all_ = True
        elif flag in _VALUES and rest and not rest[0].startswith("-"):
            value = rest.pop(0)
            if _VALUES[flag] == "metadata_selector":
                selectors.append(value)
            else:
                options[_VALUES[flag]] = value
        else:
            return None
    if options.get("output", "table") not in ("table", "json"):
        return None
    app = App(Path(root) if root else None)
    app.output = options.get("output", "table")

    def go() -> int:
        try:
            if what == "programs":
                app.list_programs(
                    options.get("program_type"), options.get("application"), selectors, all_
                )
            else:
                app.list_links(options.get("program_type"), options.get("application"), selectors)
        finally:
            app.close()
        return 0

    return guarded(go, verbose=False)
