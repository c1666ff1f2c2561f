"""Loggers that import :mod:`logging` only when a message is logged.

``list`` and ``get`` must start fast; ``logging`` (with ``traceback`` and
friends) costs several milliseconds and is needed only on ``-v`` or when
something goes wrong.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class LazyLogger:
    """The subset of :class:`logging.Logger` bpfman uses, resolved on first use."""

    def __init__(self, name: str) -> None:
        self.name = name

    def _log(self, level: str, msg: str, *args: Any, **kwargs: Any) -> None:
        import logging

        getattr(logging.getLogger(self.name), level)(msg, *args, **kwargs)

    def is_debug(self) -> bool:
        """Whether debug messages go anywhere: never before ``logging`` is imported.

        Until something imports ``logging`` nothing can have configured it, and
        an unconfigured ``logging`` drops debug and info messages.
        """
        if "logging" not in sys.modules:
            return False
        import logging

        return logging.getLogger(self.name).isEnabledFor(logging.DEBUG)

    def debug(self, msg: str, *args: Any, **kwargs: Any) -> None:
        if "logging" in sys.modules:
            self._log("debug", msg, *args, **kwargs)

    def info(self, msg: str, *args: Any, **kwargs: Any) -> None:
        if "logging" in sys.modules:
            self._log("info", msg, *args, **kwargs)

    def warning(self, msg: str, *args: Any, **kwargs: Any) -> None:
        self._log("warning", msg, *args, **kwargs)


def get_logger(name: str) -> LazyLogger:
    return LazyLogger(name)
