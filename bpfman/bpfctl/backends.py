"""Which backend serves a command: the service if its socket answers, else the core.

A user in the socket's group reaches the service (running as root) without
sudo, as under the reference's systemd units; where no service listens, bpfctl
does the work itself and needs root, like ``bpfman``. Neither backend is
imported before a command needs one (``--help`` imports neither, the core
path no gRPC).
"""

from __future__ import annotations

import os

from bpfman.errors import PermissionDeniedError
from bpfman.privilege import require_privilege

from .listening import answers
from .transaction import Backend

# The service's default socket (bpfman system service, bpfman.socket).
DEFAULT_SOCKET = "/run/bpfman-sock/bpfman.sock"
SOCKET_ENV = "BPFMAN_SOCKET_PATH"


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
