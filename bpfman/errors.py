"""The one exception hierarchy of bpfman.

Every failure a user can cause or meet is a :class:`BpfmanError`. The CLI maps
the class to an exit status and the service to a gRPC status code; both show
``str(error)`` as one line, so messages say what was wrong and, where it
helps, what to do.
"""

from __future__ import annotations

import errno as _errno
import os


class BpfmanError(Exception):
    """Base of every error bpfman raises on purpose."""


class InvalidInputError(BpfmanError):
    """The user's input is malformed or inconsistent (bad hex, bad range...)."""


class NotFoundError(BpfmanError):
    """A program, link, interface, netns, file or image does not exist."""


class NotManagedError(NotFoundError):
    """The kernel object exists but bpfman did not load it."""


class PermissionDeniedError(BpfmanError):
    """The caller lacks root or a capability."""


class UnsupportedError(BpfmanError):
    """The kernel or the program type cannot do what was asked."""


class ConflictError(BpfmanError):
    """The request clashes with what is already there (hook full, qdisc...)."""


class LimitExceededError(BpfmanError):
    """A kernel limit is exhausted: the hook already runs as many programs as
    the kernel allows (64 on a tcx, netkit or cgroup hook or a tracepoint).

    The message names the limit and the hook and says what to do.
    """


class LockTimeoutError(BpfmanError):
    """Another writer held the state lock longer than the caller would wait.

    Nothing was changed: the operation had not started.
    """


class StateError(BpfmanError):
    """The state store is unreadable or from an incompatible version."""


class LostStateError(StateError):
    """The store is missing while bpfman's bpffs still holds pins."""


class CorruptStateError(StateError):
    """The store's file or one of its records cannot be read."""


class PluginError(BpfmanError):
    """A plugin is broken, missing or clashes with another one."""


class ImageError(BpfmanError):
    """Pulling, verifying or unpacking a bytecode image failed."""


class RegistryAuthError(ImageError):
    """The registry wants credentials, or refused the ones given."""


class RegistryUnreachableError(ImageError):
    """The registry did not answer: no route, no name, no TLS handshake."""


class KernelError(BpfmanError):
    """A syscall or a libbpf call failed.

    Carries the errno so callers can match on it, the operation for context,
    and whatever libbpf or the verifier said.
    """

    def __init__(
        self,
        operation: str,
        err: int,
        detail: str = "",
        verifier_log: str = "",
    ) -> None:
        self.operation = operation
        self.errno = abs(err)
        self.detail = detail.strip()
        self.verifier_log = verifier_log
        name = _errno.errorcode.get(self.errno, str(self.errno))
        msg = f"{operation}: {os.strerror(self.errno)} ({name})"
        if self.detail:
            msg += f": {self.detail}"
        tail = log_tail(verifier_log)
        if tail:
            msg += f"; verifier: {tail}"
        super().__init__(msg)


def log_tail(log: str, lines: int = 3) -> str:
    """The last few non-empty lines of a verifier log, joined for one line."""
    kept = [line.strip() for line in log.splitlines() if line.strip()]
    return " | ".join(kept[-lines:])
