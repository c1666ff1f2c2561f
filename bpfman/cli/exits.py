"""The exit statuses ``bpfman`` documents: one table for ``--help``, the man page,
the user guide and the error handler.

Apart from :mod:`bpfman.cli.app`, so that a command that succeeds never builds it.
"""

from __future__ import annotations

from typing import NamedTuple

from .. import errors
from ..errors import BpfmanError


class ExitStatus(NamedTuple):
    """One documented exit status: its number, the error class it stands for, its meaning."""

    code: int
    error: type[BpfmanError] | None
    meaning: str


# Shown by --help, the man page and the user guide (a test keeps the guide in step).
EXIT_STATUSES = (
    ExitStatus(0, None, "success (also when a reader such as head stops reading early)"),
    ExitStatus(1, None, "any other failure"),
    ExitStatus(2, errors.InvalidInputError, "invalid input: an option, value or file is wrong"),
    ExitStatus(3, errors.NotFoundError, "no such program, link, interface, file or image"),
    ExitStatus(4, errors.PermissionDeniedError, "root (or CAP_BPF and CAP_SYS_ADMIN) needed"),
    ExitStatus(5, errors.UnsupportedError, "the kernel or the program type cannot do it"),
    ExitStatus(6, errors.ConflictError, "clashes with what is attached already"),
    ExitStatus(7, errors.StateError, "the state store cannot be read or written"),
    ExitStatus(8, errors.ImageError, "pulling, verifying or unpacking an image failed"),
    ExitStatus(9, errors.KernelError, "the kernel refused (the verifier's log follows)"),
    ExitStatus(10, errors.LockTimeoutError, "another writer held the lock past --lock-timeout"),
    ExitStatus(
        11, errors.LimitExceededError, "the hook holds as many programs as the kernel allows"
    ),
    ExitStatus(70, None, "internal error: a bug, please report it (run with -v)"),
    ExitStatus(130, None, "interrupted (Ctrl-C): what was not yet recorded is undone"),
)
# The exit status of each error class; a subclass takes its nearest listed base's.
EXIT_STATUS: dict[type[BpfmanError], int] = {
    row.error: row.code for row in EXIT_STATUSES if row.error is not None
}


def exit_status(exc: BpfmanError) -> int:
    """The status ``bpfman`` exits with after ``exc`` (1 for a class not listed)."""
    return next((EXIT_STATUS[c] for c in type(exc).__mro__ if c in EXIT_STATUS), 1)


def exit_status_text() -> str:
    """The table of exit statuses, as ``--help`` and the man page show it."""
    return "\n".join(f"{row.code:>5}  {row.meaning}" for row in EXIT_STATUSES)
