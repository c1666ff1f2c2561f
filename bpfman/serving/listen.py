"""The public Unix socket of a gRPC face (the service, the CSI plugin), and who calls in.

grpcio can only serve on addresses it binds itself: it cannot adopt a
listening socket handed over by systemd, and it does not expose the peer's
SO_PEERCRED. So gRPC listens on a private socket (in a 0700 directory), and
the service accepts on the public socket -- its own (:func:`bind_socket`), or
the one systemd passed (:func:`listen_fds`) -- reads each caller's
credentials, and relays the connection to gRPC (:mod:`.relay`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import stat
import struct
from pathlib import Path
from typing import NamedTuple

from bpfman.core.trust import Trust, trusted_path
from bpfman.errors import ConflictError, PermissionDeniedError

log = logging.getLogger("bpfman.service")

SD_LISTEN_FDS_START = 3
_CRED = struct.Struct("3i")


class Credentials(NamedTuple):
    """A caller, as the kernel saw it connect (SO_PEERCRED)."""

    pid: int
    uid: int
    gid: int

    def __str__(self) -> str:
        return f"uid={self.uid} gid={self.gid} pid={self.pid}"


def listen_fds(unset_environment: bool = True) -> list[int]:
    """The fds systemd passed (sd_listen_fds): empty when not socket-activated.

    Honoured only when ``LISTEN_PID`` is this process; the variables are
    removed so that children do not take the sockets for theirs.
    """
    pid, count = os.environ.get("LISTEN_PID"), os.environ.get("LISTEN_FDS")
    if unset_environment:
        for name in ("LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"):
            os.environ.pop(name, None)
    if not pid or not count:
        return []
    try:
        if int(pid) != os.getpid():
            return []
        n = int(count)
    except ValueError:
        return []
    fds = list(range(SD_LISTEN_FDS_START, SD_LISTEN_FDS_START + max(n, 0)))
    for fd in fds:
        os.set_inheritable(fd, False)
    return fds


def activated_socket() -> socket.socket | None:
    """The listening Unix stream socket systemd passed, if any."""
    fds = listen_fds()
    if not fds:
        return None
    if len(fds) > 1:
        log.warning("systemd passed %d sockets; serving on the first (fd %d)", len(fds), fds[0])
    sock = socket.socket(fileno=fds[0])
    if sock.family != socket.AF_UNIX or sock.type != socket.SOCK_STREAM:
        raise ConflictError(f"the socket systemd passed (fd {fds[0]}) is not a Unix stream socket")
    return sock


def _socket_directory(path: Path) -> os.stat_result:
    """Create the socket directory as needed; refuse one another user could tamper with.

    The directories above it are checked as a root's are (every one root's or
    ours, none writable by others unless sticky: :func:`trusted_path`), as
    their owners or writers could rename the socket directory away and put
    their own in its place. Missing ones are made 0755, for the socket's group
    to reach it. The directory itself is refused when it is a symlink, or
    when another non-root user owns it: that user could swap the socket for
    their own. One its group or everyone may write to is served with a
    warning: bpfman-operator's socket volume is an emptyDir that kubelet makes
    2777 and gives the pod's fsGroup.
    """
    path = Path(
        trusted_path(path, Trust("socket directory", mode=0o755, leave_last=True), create=True)
    )
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=0o755)
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode):
        raise PermissionDeniedError(f"{path} is not a directory (a symlink?): refusing to use it")
    if st.st_uid not in (0, os.geteuid()):
        raise PermissionDeniedError(
            f"{path} belongs to uid {st.st_uid}: refusing to put the socket there"
        )
    if st.st_mode & 0o022:
        who = "everyone" if st.st_mode & 0o002 else f"group {st.st_gid}"
        log.warning(
            "%s is writable by %s (mode %o): whoever may write there can remove the socket, or"
            " put their own in its place while the service is down, and clients would then"
            " talk to an impostor (and send it registry credentials); use such a directory"
            " only when those writers are trusted (the pod of bpfman-operator's emptyDir)",
            path,
            who,
            stat.S_IMODE(st.st_mode),
        )
    return st


def bind_socket(path: Path, mode: int = 0o660) -> socket.socket:
    """A listening Unix socket at ``path`` with ``mode``; stale sockets are replaced.

    The socket takes its directory's group, so the directory decides who may
    connect (the operator's agent reaches it through the fsGroup).
    """
    directory = _socket_directory(path.parent)
    with contextlib.suppress(FileNotFoundError):
        st = os.lstat(path)
        if not stat.S_ISSOCK(st.st_mode):
            raise ConflictError(f"{path} exists and is not a socket: refusing to replace it")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(str(path))
        except OSError:
            os.unlink(path)  # nobody listens: a leftover of an earlier run
        else:
            raise ConflictError(f"{path}: another service is listening there")
        finally:
            probe.close()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o777 & ~mode)
    try:
        sock.bind(str(path))  # created with ``mode``: never more open, even for a moment
    finally:
        os.umask(old)
    os.chown(path, -1, directory.st_gid, follow_symlinks=False)
    sock.listen(128)
    return sock


def peer_credentials(sock: socket.socket) -> Credentials:
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _CRED.size)
    return Credentials(*_CRED.unpack(raw))
