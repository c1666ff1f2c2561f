"""Whether the bpfman service listens on its Unix socket.

Asked before a backend is chosen (:mod:`.backends`), and again by the service's
backend when a call finds it unavailable (:mod:`.remote`): imports nothing of
either.
"""

from __future__ import annotations

import errno
import os
import socket

from bpfman.errors import BpfmanError, PermissionDeniedError


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
