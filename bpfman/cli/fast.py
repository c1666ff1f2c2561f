"""``list programs``, ``list links`` and ``load file`` without click.

These are the commands scripts run in loops, and click alone costs more than
the Python interpreter's start. Only plain, well-formed invocations take this
path; anything else (help, unknown or repeated flags, ``--flag=value``, missing
values) returns None and goes to the full CLI, which owns the messages. The
global options are taken before the command or among its own, as the full
CLI takes them. The flags are the full CLI's (:mod:`bpfman.cli.grammar`).

``list programs`` and ``list links`` on a healthy store go further: with any of
their filters they import neither the app nor the manager (:mod:`bpfman.core.listing`).
"""

from __future__ import annotations

import os

from . import grammar

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    from .grammar import Flag


def _table(flags: Sequence[Flag]) -> dict[str, Flag]:
    """Each flag of a command under each of its spellings."""
    return {opt: flag for flag in flags for opt in flag.opts}


_GLOBAL = _table(grammar.GLOBAL)
_LIST_PROGRAMS = _table(grammar.LIST_PROGRAMS)
_LIST_LINKS = _table(grammar.LIST_LINKS)
_LOAD_FILE = _table(grammar.LOAD_FILE)
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


def parse(args: list[str], flags: dict[str, Flag]) -> dict[str, Any] | None:
    """The options of a plain invocation, or None for anything the full CLI should see.

    Values are checked as the full CLI checks them (choices, ids), else None.
    """
    options: dict[str, Any] = {}
    while args:
        flag = flags.get(args.pop(0))
        if flag is None:
            return None
        words = []
        while flag.takes != "flag" and args and not args[0].startswith("-"):
            words.append(args.pop(0))
            if flag.takes != "many":
                break
        if (flag.takes == "flag") == bool(words):
            return None
        if flag.takes in ("each", "many"):
            options.setdefault(flag.dest, []).extend(words)
        elif flag.dest in options:
            return None  # repeated: the full CLI decides
        elif not words:
            options[flag.dest] = True
        elif not _valid(flag, words[0]):
            return None  # click says what is wrong with it
        else:
            options[flag.dest] = int(words[0]) if flag.kind == "id" else words[0]
    if any(flag.required and flag.dest not in options for flag in flags.values()):
        return None
    return options


def _valid(flag: Flag, word: str) -> bool:
    if flag.choices and word not in flag.choices:
        return False
    return flag.kind != "id" or _is_u32(word)


def run(argv: Sequence[str]) -> int | None:
    """Handle a plain command of :data:`_COMMANDS` and the global options; None: not for us."""
    args = list(argv)
    at = 0  # the command's first word, after the global options given before it
    while at < len(args) and args[at] in _GLOBAL:
        at += 1 if _GLOBAL[args[at]].takes == "flag" else 2
    words, flags = next(
        ((len(c), f) for c, f in _COMMANDS.items() if tuple(args[at : at + len(c)]) == c),
        (0, None),
    )
    if flags is None:
        return None
    options = parse(args[:at] + args[at + words :], {**flags, **_GLOBAL})
    if options is None:
        return None
    root = options.pop("root", os.environ.get(grammar.ROOT.envvar or "") or None)
    timeout = options.pop("lock_timeout", os.environ.get(grammar.LOCK_TIMEOUT.envvar or "") or None)
    if root == "":
        return None  # the full CLI refuses it
    output = options.pop("output", grammar.OUTPUT.default)
    if flags is not _LOAD_FILE and timeout is None and not options.get("verbose"):
        code = _healthy_list(flags, options, root, output)
        if code is not None:
            return code
    return _through_app(flags, options, root, timeout, output)


def _healthy_list(
    flags: dict[str, Flag], options: dict[str, Any], root: str | None, output: str
) -> int | None:
    """A ``list`` from a healthy store, without the app; None: the app's path decides.

    Anything amiss (bad input, a damaged store, any error at all) is left to
    the app's path, which says what is wrong in its words: this one has only
    read. Only writing the output is past turning back: a failure there is
    reported as :func:`~bpfman.cli.app.guarded` reports it.
    """
    from ..core.listing import healthy
    from ..core.root import default_root
    from .listing import links_text, programs_text, show

    try:
        with healthy(root or default_root()) as found:
            if found is None:
                return None
            queries, snapshot = found
            if flags is _LIST_PROGRAMS:
                text = programs_text(queries.programs, output, **options)
            else:
                text = links_text(queries.links, output, **options)
            if snapshot is not None and snapshot.corrupt:
                return None
    except Exception:  # whatever it is, the app's path meets it again and says so
        return None
    try:
        show(text)
    except Exception as exc:  # a reader gone, a full disk: guarded() ends it as it ends the app's
        from .app import guarded

        failure = exc

        def again() -> int:
            raise failure

        return guarded(again, verbose=False)
    return 0


def _through_app(
    flags: dict[str, Flag],
    options: dict[str, Any],
    root: str | None,
    timeout: str | None,
    output: str,
) -> int | None:
    """The command through :class:`~bpfman.cli.app.App`, under :func:`~bpfman.cli.app.guarded`."""
    from functools import partial
    from pathlib import Path

    from ..errors import InvalidInputError
    from .app import App, guarded, lock_timeout, verbose_logging

    try:
        seconds = None if timeout is None else lock_timeout(timeout)
    except InvalidInputError:
        return None  # the full CLI says what is wrong with it
    verbose = options.pop("verbose", False)
    if verbose:
        verbose_logging()
    app = App(Path(root) if root else None, lock_timeout=seconds)
    app.output = output

    def go() -> int:
        try:
            if flags is _LOAD_FILE:
                app.load(partial(app.bpfman.load_file, options.pop("path")), **options)
            elif flags is _LIST_PROGRAMS:
                from .listing import programs_text, show

                show(programs_text(app.bpfman.list_programs, app.output, **options))
            else:
                from .listing import links_text, show

                show(links_text(app.bpfman.list_links, app.output, **options))
        finally:
            app.close()
        return 0

    return guarded(go, verbose=verbose)


def _is_u32(word: str) -> bool:
    return word.isascii() and word.isdigit() and len(word) <= 10 and int(word) <= 0xFFFFFFFF
