"""Polling for what the kernel does asynchronously (freeing programs, links, namespaces)."""

from __future__ import annotations

import time
from collections.abc import Callable


def eventually(check: Callable[[], object], timeout: float = 5.0, interval: float = 0.05) -> bool:
    """Whether ``check()`` turns true within ``timeout`` seconds, polling every ``interval``.

    The kernel frees unpinned links and programs asynchronously, so a test that
    expects one gone polls briefly instead of asserting at once.
    """
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)
    return True
