"""Waiting for the end of a command that holds something open."""

from __future__ import annotations

import time


def hold(seconds: float | None) -> None:
    """Sleep ``seconds`` (forever if None); Ctrl-C ends the wait, not the command."""
    try:
        if seconds is None:
            while True:
                time.sleep(3600)
        time.sleep(seconds)
    except KeyboardInterrupt:
        return
