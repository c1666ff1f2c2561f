"""The service's public Unix socket, and a relay that knows who is calling.

grpcio can only serve on addresses it binds itself: it cannot adopt a
listening socket handed over by systemd, and it does not expose the peer's
SO_PEERCRED. So gRPC listens on a private socket (in a 0700 directory), and
the service accepts on the public socket -- its own, or the one systemd
passed (:func:`listen_fds`) -- reads each caller's credentials, and relays
the connection's bytes to gRPC from a client socket bound to a unique path.
gRPC reports that path as the call's peer (``unix:<path>``), which
:meth:`Relay.credentials` maps back to the caller's uid, gid and pid.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import select
import socket
import stat
import struct
import threading
from pathlib import Path
from typing import NamedTuple

from bpfman.core.errors import ConflictError, PermissionDeniedError

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


def _safe_directory(path: Path) -> None:
    """Create the socket directory as needed; refuse one others could tamper with."""
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=0o755, parents=True)
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode):
        raise PermissionDeniedError(f"{path} is not a directory (a symlink?): refusing to use it")
    if st.st_uid not in (0, os.geteuid()):
        raise PermissionDeniedError(
            f"{path} belongs to uid {st.st_uid}: refusing to put the socket there"
        )
    if st.st_mode & 0o022:
        raise PermissionDeniedError(
            f"{path} is writable by group or others (mode {stat.S_IMODE(st.st_mode):o}):"
            " refusing to put the socket there"
        )


def bind_socket(path: Path, mode: int = 0o660) -> socket.socket:
    """A listening Unix socket at ``path`` with ``mode``; stale sockets are replaced."""
    _safe_directory(path.parent)
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
        sock.bind(str(path))
    finally:
        os.umask(old)
    os.chmod(path, mode, follow_symlinks=False)
    sock.listen(128)
    return sock


def peer_credentials(sock: socket.socket) -> Credentials:
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _CRED.size)
    return Credentials(*_CRED.unpack(raw))


class Relay:
    """Accepts on the public socket and relays each connection to gRPC."""

    def __init__(self, public: socket.socket, upstream: str, private_dir: Path) -> None:
        self.public = public
        self.upstream = upstream
        self.private_dir = private_dir
        self._peers: dict[str, Credentials] = {}
        self._lock = threading.Lock()
        self._counter = 0
        self._wake_r, self._wake_w = os.pipe()
        self._accepting = True
        self._thread = threading.Thread(target=self._accept_loop, name="relay-accept", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def credentials(self, peer: str) -> Credentials | None:
        """The caller behind a gRPC peer string (``unix:<relay path>``)."""
        with self._lock:
            return self._peers.get(peer.removeprefix("unix:"))

    @property
    def connections(self) -> int:
        with self._lock:
            return len(self._peers)

    def stop_accepting(self) -> None:
        """No new connections; those open keep relaying (in-flight calls finish)."""
        if self._accepting:
            self._accepting = False
            os.write(self._wake_w, b"x")
            self._thread.join()

    def close(self) -> None:
        self.stop_accepting()
        os.close(self._wake_r)
        os.close(self._wake_w)

    def _accept_loop(self) -> None:
        while self._accepting:
            ready, _, _ = select.select([self.public.fileno(), self._wake_r], [], [])
            if self._wake_r in ready:
                return
            try:
                client, _ = self.public.accept()
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EINTR, errno.ECONNABORTED):
                    log.warning("accept on the service socket failed: %s", exc)
                continue
            try:
                self._connect(client)
            except OSError as exc:
                log.warning("cannot relay a connection to the gRPC server: %s", exc)
                client.close()

    def _connect(self, client: socket.socket) -> None:
        client.setblocking(True)
        creds = peer_credentials(client)
        with self._lock:
            self._counter += 1
            path = str(self.private_dir / f"c{self._counter}")
        upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            upstream.bind(path)
            upstream.connect(self.upstream)
        except OSError:
            upstream.close()
            with contextlib.suppress(OSError):
                os.unlink(path)
            raise
        with self._lock:
            self._peers[path] = creds
        log.debug("connection from %s", creds)
        done = threading.Barrier(2, action=lambda: self._closed(path, client, upstream))
        for src, dst in ((client, upstream), (upstream, client)):
            threading.Thread(target=_pump, args=(src, dst, done), name="relay", daemon=True).start()

    def _closed(self, path: str, *socks: socket.socket) -> None:
        for s in socks:
            s.close()
        with self._lock:
            self._peers.pop(path, None)
        with contextlib.suppress(OSError):
            os.unlink(path)


def _pump(src: socket.socket, dst: socket.socket, done: threading.Barrier) -> None:
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            dst.shutdown(socket.SHUT_WR)
        with contextlib.suppress(threading.BrokenBarrierError):
            done.wait()
