"""Waiting for the end of a command that holds something open."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from types import FrameType


class _Terminated(Exception):
    """SIGTERM arrived (``timeout``, systemd): end the wait like Ctrl-C."""


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise _Terminated


def hold(seconds: float | None, ready: Callable[[], None] | None = None) -> None:
    """Sleep ``seconds`` (forever if None). Ctrl-C or SIGTERM ends the wait,
    not the command, which then reports and cleans up as usual.

    ``ready`` runs once both signals are caught: announce the wait there, so
    whoever reacts to the announcement with a signal cannot come too early.
    """
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        if ready is not None:
            ready()
        if seconds is None:
            while True:
                time.sleep(3600)
        time.sleep(seconds)
    except (KeyboardInterrupt, _Terminated):
        return
    finally:
        signal.signal(signal.SIGTERM, previous)
