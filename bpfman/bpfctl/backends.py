"""Which backend serves a command: the service if its socket answers, else the core.

A user in the socket's group reaches the service (running as root) without
sudo, as under the reference's systemd units; where no service listens, bpfctl
does the work itself and needs root, like ``bpfman``. Neither backend is
imported before a command needs one (``--help`` imports neither, the core
path no gRPC).
"""

from __future__ import annotations

import errno
import os
import socket

from bpfman.config import require_privilege
from bpfman.errors import BpfmanError, PermissionDeniedError

from .transaction import Backend

# The service's default socket (bpfman system service, bpfman.socket).
DEFAULT_SOCKET = "/run/bpfman-sock/bpfman.sock"
SOCKET_ENV = "BPFMAN_SOCKET_PATH"


def answers(path: str) -> bool:
    """Whether something accepts connections on the Unix socket ``path``.

    A missing socket, or one nobody listens on (a stale file), is no service.
    A socket this user may not open is an error that names its group.
    """
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except (FileNotFoundError, ConnectionRefusedError, NotADirectoryError):
        return False
    except PermissionError:
        raise _denied(path) from None
    except OSError as exc:
        if exc.errno in (errno.ENOTSOCK, errno.EPROTOTYPE):
            return False
        raise BpfmanError(f"cannot connect to {path}: {exc.strerror or exc}") from None
    finally:
        sock.close()
    return True


def _denied(path: str) -> PermissionDeniedError:
    """The refusal, naming the group of the socket (or of its directory, if that is
    what keeps this user out)."""
    import grp

    for where in (path, os.path.dirname(path)):
        try:
            gid = os.stat(where).st_gid
            break
        except OSError:
            continue
    else:
        return PermissionDeniedError(
            f"cannot reach the bpfman service at {path}: permission denied"
        )
    try:
        group = grp.getgrgid(gid).gr_name
    except KeyError:
        group = str(gid)
    return PermissionDeniedError(
        f"cannot connect to the bpfman service at {path}: permission denied; members of group"
        f" {group} may (sudo usermod -a -G {group} $USER, then log in again), or run as root"
    )


def connect(socket_path: str) -> Backend:
    """The service on ``socket_path`` if it answers, else bpfman's core in this process."""
    path = os.path.abspath(socket_path)
    if answers(path):
        from .remote import Remote

        return Remote(path)
    try:
        require_privilege()
    except PermissionDeniedError as exc:
        raise PermissionDeniedError(f"{exc}: no bpfman service answers at {path}") from None
    from .local import Local

    return Local()


class Client:
    """One invocation's state: where the service is, and the backend once a command needs one."""

    def __init__(self, socket_path: str) -> None:
        self.socket_path = socket_path
        self._backend: Backend | None = None

    @property
    def backend(self) -> Backend:
        if self._backend is None:
            self._backend = connect(self.socket_path)
        return self._backend

    def close(self) -> None:
        if self._backend is not None:
            self._backend.close()
            self._backend = None
