"""The ``bpfman`` command's entry point: the click-free fast path, else the full CLI."""

from __future__ import annotations

import contextlib
import gc
import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: the click-free fast path for plain ``list`` and ``load file``, else the full CLI."""
    code, _ = _run(list(sys.argv[1:] if argv is None else argv))
    return code


def script() -> int:
    """The ``bpfman`` process (console script, ``python -m bpfman``): :func:`main`, then exit.

    Output still buffered is flushed here, so a reader gone by then ends the
    command quietly with 0, as one gone while it printed does (a reader that
    stops early is no failure). A command of the fast path (plain ``list``,
    ``load file``) then ends the process at once: it leaves nothing for exit
    handlers or finalizers (its store is closed, its kernel objects pinned or
    closed), and tearing the interpreter down and collecting garbage cycles it
    never made cost ``list`` a sixth of its time. Every other command (the
    service among them) exits normally.
    """
    gc.disable()
    code, fast = _run(sys.argv[1:])
    code = _flushed(code)
    if fast:
        os._exit(code)
    return code


def _run(args: list[str]) -> tuple[int, bool]:
    """The command's exit status, and whether the click-free fast path ran it."""
    try:
        from .fast import run

        code = run(args)
        if code is not None:
            return code, True
        gc.enable()
        from .main import main as full

        return full(args), False
    except KeyboardInterrupt:  # while importing, before the command's own handling began
        sys.stderr.write("Error: interrupted\n")
        return 130, False


def _flushed(code: int) -> int:
    """``code`` once stdout and stderr are flushed; a reader gone by then changes nothing."""
    try:
        if sys.stdout is not None:  # None: started with stdout closed, where print() writes nothing
            sys.stdout.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing left to say
    with contextlib.suppress(OSError, AttributeError):
        sys.stderr.flush()  # nowhere to say that stderr is gone (or it was closed at start)
    return code
