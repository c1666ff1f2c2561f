"""``list programs``, ``list links`` and ``load file`` without click (either spelling).

These are the commands scripts run in loops, and click alone costs more than
the Python interpreter's start. Only plain, well-formed invocations take this
path; anything else (help, unknown or repeated flags, ``--flag=value``, missing
values) returns None and goes to the full CLI, which owns the messages. The
global options are taken before the command or among its own, as the full
CLI takes them.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any

from ..core.errors import InvalidInputError
from .app import App, guarded, lock_timeout, verbose_logging

# Per command, each flag's destination and how it takes values: "flag" takes
# none, "one" the next word, "many" every following word up to the next flag
# (as --programs does in the reference CLI), "each" one word per occurrence.
_GLOBAL = {
    "--root": ("root", "one"),
    "--runtime-dir": ("root", "one"),
    "--lock-timeout": ("lock_timeout", "one"),
    "-v": ("verbose", "flag"),
    "--verbose": ("verbose", "flag"),
}
_OUTPUT = {"-o": ("output", "one"), "--output": ("output", "one")}
_LIST = {
    "-p": ("program_type", "one"),
    "--program-type": ("program_type", "one"),
    "--application": ("application", "one"),
    "-m": ("metadata_selector", "each"),
    "--metadata-selector": ("metadata_selector", "each"),
    "-q": ("quiet", "flag"),
    "--quiet": ("quiet", "flag"),
    **_OUTPUT,
}
_LIST_PROGRAMS = {
    **_LIST,
    "-a": ("all_", "flag"),
    "--all": ("all_", "flag"),
    "-l": ("selector", "each"),
    "--selector": ("selector", "each"),
    "--attached": ("attached", "flag"),
    "--unattached": ("unattached", "flag"),
}
_LIST_LINKS = {**_LIST, "--program-id": ("program_id", "one"), "--kind": ("kind", "each")}
_LOAD_FILE = {
    "-p": ("path", "one"),
    "--path": ("path", "one"),
    "--programs": ("programs", "many"),
    "-g": ("global_", "many"),
    "--global": ("global_", "many"),
    "-a": ("application", "one"),
    "--application": ("application", "one"),
    "-m": ("metadata", "each"),
    "--metadata": ("metadata", "each"),
    "--map-owner-id": ("map_owner_id", "one"),
    **_OUTPUT,
}
# Both spellings of each command (verb first, noun first) and the hidden aliases.
_COMMANDS = {
    ("list", "programs"): _LIST_PROGRAMS,
    ("list", "program"): _LIST_PROGRAMS,
    ("program", "list"): _LIST_PROGRAMS,
    ("list", "links"): _LIST_LINKS,
    ("list", "link"): _LIST_LINKS,
    ("link", "list"): _LIST_LINKS,
    ("load", "file"): _LOAD_FILE,
    ("program", "load", "file"): _LOAD_FILE,
}


def parse(args: list[str], flags: dict[str, tuple[str, str]]) -> dict[str, Any] | None:
    """The options of a plain invocation, or None for anything the full CLI should see."""
    options: dict[str, Any] = {}
    while args:
        dest, kind = flags.get(args.pop(0), ("", ""))
        words = []
        while kind in ("one", "each", "many") and args and not args[0].startswith("-"):
            words.append(args.pop(0))
            if kind != "many":
                break
        if not kind or (kind == "flag") == bool(words):
            return None
        if kind in ("each", "many"):
            options.setdefault(dest, []).extend(words)
        elif dest in options:
            return None  # repeated: the full CLI decides
        else:
            options[dest] = words[0] if words else True
    return options


def run(argv: Sequence[str]) -> int | None:
    """Handle a plain command of :data:`_COMMANDS` and the global options; None: not for us."""
    args = list(argv)
    at = 0  # the command's first word, after the global options given before it
    while at < len(args) and args[at] in _GLOBAL:
        at += 1 if _GLOBAL[args[at]][1] == "flag" else 2
    words, flags = next(
        ((len(c), f) for c, f in _COMMANDS.items() if tuple(args[at : at + len(c)]) == c),
        (0, None),
    )
    options = parse(args[:at] + args[at + words :], {**flags, **_GLOBAL}) if flags else None
    if options is None or options.get("output", "table") not in ("table", "json"):
        return None
    if flags is _LOAD_FILE and ("path" not in options or "programs" not in options):
        return None
    for name in ("map_owner_id", "program_id"):
        if name in options:
            if not _is_u32(options[name]):
                return None  # click says what is wrong with it
            options[name] = int(options[name])
    root = options.pop("root", os.environ.get("BPFMAN_ROOT") or None)
    timeout = options.pop("lock_timeout", os.environ.get("BPFMAN_LOCK_TIMEOUT") or None)
    if root == "":
        return None  # the full CLI refuses it
    try:
        seconds = None if timeout is None else lock_timeout(timeout)
    except InvalidInputError:
        return None  # the full CLI says what is wrong with it
    verbose = options.pop("verbose", False)
    if verbose:
        verbose_logging()
    app = App(Path(root) if root else None, lock_timeout=seconds)
    app.output = options.pop("output", "table")

    def go() -> int:
        try:
            if flags is _LOAD_FILE:
                app.load(partial(app.bpfman.load_file, options.pop("path")), **options)
            elif flags is _LIST_PROGRAMS:
                app.list_programs(**options)
            else:
                app.list_links(**options)
        finally:
            app.close()
        return 0

    return guarded(go, verbose=verbose)


def _is_u32(word: str) -> bool:
    return word.isascii() and word.isdigit() and len(word) <= 10 and int(word) <= 0xFFFFFFFF
