"""Loggers that import :mod:`logging` only when a message is logged.

``list`` and ``get`` must start fast; ``logging`` (with ``traceback`` and
friends) costs several milliseconds and is needed only on ``-v`` or when
something goes wrong.
"""

from __future__ import annotations

from typing import Any


class LazyLogger:
    """The subset of :class:`logging.Logger` bpfman uses, resolved on first use."""

    def __init__(self, name: str) -> None:
        self.name = name

    def _log(self, level: str, msg: str, *args: Any, **kwargs: Any) -> None:
        import logging

        getattr(logging.getLogger(self.name), level)(msg, *args, **kwargs)

    def debug(self, msg: str, *args: Any, **kwargs: Any) -> None:
        self._log("debug", msg, *args, **kwargs)

    def info(self, msg: str, *args: Any, **kwargs: Any) -> None:
        self._log("info", msg, *args, **kwargs)

    def warning(self, msg: str, *args: Any, **kwargs: Any) -> None:
        self._log("warning", msg, *args, **kwargs)


def get_logger(name: str) -> LazyLogger:
    return LazyLogger(name)
