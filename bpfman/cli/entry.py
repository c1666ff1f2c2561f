"""The ``bpfman`` command's entry point: the click-free fast path, else the full CLI."""

from __future__ import annotations

import contextlib
import gc
import os
import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: the click-free fast path for plain ``list`` and ``load file``, else the full CLI."""
    args = list(sys.argv[1:] if argv is None else argv)
    from .fast import run

    code = run(args)
    if code is not None:
        return code
    from .main import main as full

    return full(args)


def script() -> int:
    """The ``bpfman`` process (console script, ``python -m bpfman``): :func:`main`, then exit.

    Output still buffered is flushed here, so a reader gone by then ends the
    command quietly with 141, as one gone while it printed does. A command of
    the fast path (plain ``list``, ``load file``) then ends the process at once:
    it leaves nothing for exit handlers or finalizers (its store is closed, its
    kernel objects pinned or closed), and tearing the interpreter down and
    collecting garbage cycles it never made cost ``list`` a sixth of its time.
    Every other command (the service among them) exits normally.
    """
    gc.disable()
    args = sys.argv[1:]
    from .fast import run

    code = run(args)
    if code is None:
        gc.enable()
        from .main import main as full

        return _flushed(full(args))
    os._exit(_flushed(code))


def _flushed(code: int) -> int:
    """``code`` once stdout and stderr are flushed; 141 if stdout's reader is gone."""
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nothing left to say
        code = 141
    with contextlib.suppress(OSError):
        sys.stderr.flush()  # nowhere to say that stderr is gone
    return code
