"""Running out of file descriptors, said as such.

A process at its fd limit fails where the cause is hidden: libbpf takes a
feature probe that got EMFILE for a kernel without the feature (the load
then fails with a verifier message about a map that "wasn't created"),
LMDB reports the store as unreadable, Python fails an import. So a load
checks its headroom first (:func:`require_fds`), and each place that meets
EMFILE or ENFILE names the limit (:func:`fd_error`). Cheap to import: the
CLI's error handler needs it when no file can be opened any more.
"""

from __future__ import annotations

import errno
import os
import resource

from bpfman.errors import KernelError

FD_ERRNOS = (errno.EMFILE, errno.ENFILE)


def shortage(err: int = errno.EMFILE) -> str:
    """What ran out, and the limit that decided it."""
    if err == errno.ENFILE:
        return "the system ran out of file descriptors (its limit is fs.file-max)"
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return f"the process ran out of file descriptors (ulimit -n is {soft})"


def fd_error(operation: str, err: int = errno.EMFILE) -> KernelError:
    """The error for ``operation`` ended by EMFILE or ENFILE."""
    return KernelError(operation, err, shortage(err))


def exhausted(message: str) -> int | None:
    """EMFILE or ENFILE when ``message`` ends with its text (LMDB's errors carry no errno)."""
    return next((err for err in FD_ERRNOS if message.endswith(os.strerror(err))), None)


def require_fds(count: int, operation: str) -> None:
    """Refuse ``operation``, naming the limit, unless ``count`` more fds can be opened."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return
    try:
        names = os.listdir("/proc/self/fd")  # includes the fd listing it
    except OSError as exc:
        if exc.errno in FD_ERRNOS:
            raise fd_error(operation, exc.errno) from None
        return  # no /proc to count with: let the operation say what fails
    # The kernel hands out the lowest free number: only those below the limit count.
    free = soft - sum(1 for name in names if int(name) < soft) + 1
    if free < count:
        raise KernelError(
            operation, errno.EMFILE, f"{shortage()}: it needs {count} more, {free} left"
        )
