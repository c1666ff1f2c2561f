"""One thread relays every connection of the public socket to gRPC.

The service accepts each connection itself (see :mod:`.listen`) and relays
its bytes to gRPC's private socket from a client socket bound to a unique
path, which gRPC reports as the call's peer (``unix:<path>``):
:meth:`Relay.credentials` maps it back to the caller.

A connection costs three fds (the caller's, ours to gRPC, gRPC's own) and no
thread: one selector thread accepts and relays them all. What a flood of
connections could use up is bounded:

- at most ``max_connections`` are open. At the limit a new connection takes
  the place of the one idle longest (idle a second at least, no call in
  flight), or is refused while there is none;
- a connection with no call in flight that moved no byte for
  ``idle_timeout`` seconds is closed; gRPC clients reconnect on their next call;
- when accepting fails (out of fds...), accepting pauses and backs off
  instead of spinning, with one line in the log when the trouble starts and
  one when it ends.
"""

from __future__ import annotations

import contextlib
import logging
import os
import resource
import selectors
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .listen import Credentials, peer_credentials

log = logging.getLogger("bpfman.service")

FDS_PER_CONNECTION = 3
FD_RESERVE = 256  # for loads (a program's maps), the store and gRPC itself
EVICT_AFTER = 1.0  # a connection idle for less may be waiting for its call to start
DRAIN_QUIET = 0.5  # when stopping, a connection this quiet with no call in flight is closed
SWEEP_EVERY = 0.25
ACCEPT_BATCH = 32
BACKOFF_FIRST, BACKOFF_MAX = 0.05, 2.0
CHUNK = 65536


@dataclass(frozen=True)
class Limits:
    """How many connections may be open, and how long one may stay idle (0: forever)."""

    max_connections: int = 256
    idle_timeout: float = 60.0


def connection_cap(requested: int) -> int:
    """``requested``, or as many connections as the fd limit holds if that is fewer.

    The soft fd limit is raised to the hard one first: its usual 1,024 is
    there for programs that use select(), which the service does not.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    unlimited = resource.RLIM_INFINITY
    if soft != unlimited and (hard == unlimited or soft < hard):
        wanted = 1 << 20 if hard == unlimited else hard
        with contextlib.suppress(ValueError, OSError):  # above the kernel's nr_open
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
    if soft == unlimited:
        return requested
    room = max(1, (soft - FD_RESERVE) // FDS_PER_CONNECTION)
    if requested > room:
        log.warning(
            "--max-connections %d: each connection takes %d fds and the fd limit (%d) leaves"
            " room for %d; serving at most %d (raise LimitNOFILE / ulimit -n for more)",
            requested, FDS_PER_CONNECTION, soft, room, room,
        )  # fmt: skip
        return room
    return requested


class Trouble:
    """A condition logged once when it starts and once when it ends, not at every event."""

    def __init__(self, ended: str) -> None:
        self.active = False
        self.ended = ended

    def start(self, message: str, *args: object) -> None:
        if not self.active:
            self.active = True
            log.warning(message, *args)

    def end(self) -> None:
        if self.active:
            self.active = False
            log.info(self.ended)


@dataclass(eq=False)
class _Direction:
    """Bytes from one socket to the other: what is read waits here until written."""

    src: socket.socket
    dst: socket.socket
    pending: bytearray = field(default_factory=bytearray)
    eof: bool = False  # src has no more to send
    shut: bool = False  # and dst was told so (SHUT_WR)


@dataclass(eq=False)
class _Connection:
    path: str
    creds: Credentials
    up: _Direction  # caller -> gRPC
    down: _Direction  # gRPC -> caller
    last: float  # when a byte last moved or a call last ended
    calls: int = 0

    def events(self, sock: socket.socket) -> int:
        """What to wait for on ``sock``: read while nothing read waits, write while it does."""
        events = 0
        for d in (self.up, self.down):
            if d.src is sock and not d.eof and not d.pending:
                events |= selectors.EVENT_READ
            if d.dst is sock and d.pending:
                events |= selectors.EVENT_WRITE
        return events


class Relay:
    """Accepts on the public socket and relays each connection to gRPC, from one thread."""

    def __init__(
        self,
        public: socket.socket,
        upstream: str,
        private_dir: Path,
        limits: Limits | None = None,
        failed: Callable[[], None] | None = None,
    ) -> None:
        self.public = public
        self.upstream = upstream
        self.private_dir = private_dir
        self.limits = limits or Limits()
        self._failed = failed
        self._conns: dict[str, _Connection] = {}
        self._lock = threading.Lock()  # _conns, and calls/last of each connection
        self._counter = 0
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._accepting = True
        self._draining = False
        self._closing = False
        self._paused_until = 0.0
        self._backoff = BACKOFF_FIRST
        self._accept_trouble = Trouble("accepting connections again")
        self._relay_trouble = Trouble("relaying connections to gRPC again")
        self._full = Trouble("below the connection limit again")
        self._thread = threading.Thread(target=self._run, name="relay", daemon=True)

    # -- the service's side ----------------------------------------------------
    def start(self) -> None:
        self.public.setblocking(False)
        self._wake_r.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ)
        self._selector.register(self.public, selectors.EVENT_READ)
        self._thread.start()

    def credentials(self, peer: str) -> Credentials | None:
        """The caller behind a gRPC peer string (``unix:<relay path>``)."""
        with self._lock:
            conn = self._conns.get(peer.removeprefix("unix:"))
            return conn.creds if conn else None

    def call_started(self, peer: str) -> None:
        """A call runs on this connection: it is not idle, whatever its bytes say."""
        self._count_call(peer, 1)

    def call_ended(self, peer: str) -> None:
        self._count_call(peer, -1)

    @property
    def connections(self) -> int:
        with self._lock:
            return len(self._conns)

    def stop_accepting(self) -> None:
        """No new connections; those open keep relaying (calls in flight finish)."""
        self._command("_accepting", False)

    def drain(self) -> None:
        """Close each connection as soon as it is quiet with no call in flight.

        gRPC's graceful shutdown waits for every connection to go, and a
        client (or anyone) that keeps one open would hold it up for ever.
        """
        self._command("_draining", True)

    def close(self) -> None:
        """Close every connection and stop the thread."""
        if self._thread.is_alive():
            self._command("_closing", True)
            self._thread.join()
        self._selector.close()
        self._wake_r.close()
        self._wake_w.close()

    def _command(self, flag: str, value: bool) -> None:
        setattr(self, flag, value)
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")

    def _count_call(self, peer: str, delta: int) -> None:
        with self._lock:
            conn = self._conns.get(peer.removeprefix("unix:"))
            if conn is not None:
                conn.calls += delta
                conn.last = time.monotonic()

    # -- the relay thread --------------------------------------------------------
    def _run(self) -> None:
        swept = time.monotonic()
        try:
            while not self._closing:
                for key, mask in self._selector.select(self._timeout()):
                    if key.fileobj is self._wake_r:
                        with contextlib.suppress(OSError):
                            self._wake_r.recv(4096)
                    elif key.fileobj is self.public:
                        self._accept()
                    else:
                        self._relay(key.data, key.fileobj, mask)  # type: ignore[arg-type]
                now = time.monotonic()
                self._listen(now)
                if now - swept >= SWEEP_EVERY:
                    swept = now
                    self._sweep(now)
        except Exception:  # a bug here must not leave a deaf service behind
            log.exception("the connection relay failed")
            if self._failed is not None:
                self._failed()
        finally:
            for conn in list(self._conns.values()):
                self._close(conn)

    def _timeout(self) -> float:
        if self._paused_until:
            return max(0.0, min(SWEEP_EVERY, self._paused_until - time.monotonic()))
        return SWEEP_EVERY if self._conns else 1.0

    def _listen(self, now: float) -> None:
        """Watch the public socket while accepting and not backing off."""
        want = self._accepting and now >= self._paused_until
        try:
            self._selector.get_key(self.public)
            watched = True
        except KeyError:
            watched = False
        if want and not watched:
            self._paused_until = 0.0
            self._selector.register(self.public, selectors.EVENT_READ)
        elif watched and not want:
            self._selector.unregister(self.public)

    def _accept(self) -> None:
        for _ in range(ACCEPT_BATCH):
            if not self._accepting:
                return
            try:
                client, _ = self.public.accept()
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionAbortedError:
                continue
            except OSError as exc:  # EMFILE, ENFILE, ENOBUFS...: the next try may fail alike
                self._accept_trouble.start(
                    "cannot accept connections on the service socket: %s; retrying, at most"
                    " every %g s, until it works again",
                    exc,
                    BACKOFF_MAX,
                )
                self._paused_until = time.monotonic() + self._backoff
                self._backoff = min(self._backoff * 2, BACKOFF_MAX)
                return
            self._backoff = BACKOFF_FIRST
            self._accept_trouble.end()
            self._admit(client)

    def _admit(self, client: socket.socket) -> None:
        if len(self._conns) >= self.limits.max_connections:
            victim = self._idlest(time.monotonic())
            self._full.start(
                "%d connections open, the limit (--max-connections): a new one takes the place"
                " of the one idle longest, or is refused while every one is busy",
                self.limits.max_connections,
            )
            if victim is None:
                client.close()
                return
            log.debug("closing the connection of %s: idle longest, at the limit", victim.creds)
            self._close(victim)
        try:
            conn = self._connect(client)
        except OSError as exc:
            self._relay_trouble.start("cannot relay connections to gRPC: %s", exc)
            client.close()
            return
        self._relay_trouble.end()
        log.debug("connection from %s", conn.creds)
        self._watch(conn)

    def _connect(self, client: socket.socket) -> _Connection:
        client.setblocking(False)
        creds = peer_credentials(client)
        self._counter += 1
        path = str(self.private_dir / f"c{self._counter}")
        upstream = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            upstream.setblocking(False)
            upstream.bind(path)
            upstream.connect(self.upstream)  # a Unix socket connects at once, or EAGAIN
        except OSError:
            upstream.close()
            with contextlib.suppress(OSError):
                os.unlink(path)
            raise
        conn = _Connection(
            path,
            creds,
            _Direction(client, upstream),
            _Direction(upstream, client),
            time.monotonic(),
        )
        with self._lock:
            self._conns[path] = conn
        return conn

    def _idlest(self, now: float) -> _Connection | None:
        """The connection idle longest, if one may be closed (no call, idle a while)."""
        with self._lock:
            idle = [c for c in self._conns.values() if c.calls == 0 and now - c.last >= EVICT_AFTER]
        return min(idle, key=lambda c: c.last, default=None)

    def _sweep(self, now: float) -> None:
        limit = DRAIN_QUIET if self._draining else self.limits.idle_timeout
        if limit > 0:
            with self._lock:
                idle = [c for c in self._conns.values() if c.calls == 0 and now - c.last >= limit]
            for conn in idle:
                log.debug("closing the connection of %s: idle %.1f s", conn.creds, now - conn.last)
                self._close(conn)
        if len(self._conns) < self.limits.max_connections:
            self._full.end()

    def _relay(self, conn: _Connection, sock: socket.socket, mask: int) -> None:
        try:
            for d in (conn.up, conn.down):
                if d.src is sock and mask & selectors.EVENT_READ:
                    self._read(conn, d)
                    self._write(d)  # at once: the other side is usually ready
                elif d.dst is sock and mask & selectors.EVENT_WRITE:
                    self._write(d)
        except OSError:  # reset, broken pipe: the connection is over
            self._close(conn)
            return
        if conn.up.shut and conn.down.shut:
            self._close(conn)
        else:
            self._watch(conn)

    def _read(self, conn: _Connection, d: _Direction) -> None:
        try:
            data = d.src.recv(CHUNK)
        except (BlockingIOError, InterruptedError):
            return
        if data:
            d.pending += data
            with self._lock:
                conn.last = time.monotonic()
        else:
            d.eof = True

    def _write(self, d: _Direction) -> None:
        if d.pending:
            try:
                sent = d.dst.send(d.pending)
            except (BlockingIOError, InterruptedError):
                sent = 0
            del d.pending[:sent]
        if d.eof and not d.pending and not d.shut:
            d.shut = True
            d.dst.shutdown(socket.SHUT_WR)

    def _watch(self, conn: _Connection) -> None:
        for sock in (conn.up.src, conn.down.src):
            events = conn.events(sock)
            try:
                key = self._selector.get_key(sock)
            except KeyError:
                if events:
                    self._selector.register(sock, events, conn)
                continue
            if not events:
                self._selector.unregister(sock)
            elif key.events != events:
                self._selector.modify(sock, events, conn)

    def _close(self, conn: _Connection) -> None:
        with self._lock:
            self._conns.pop(conn.path, None)
        for sock in (conn.up.src, conn.down.src):
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(sock)
            sock.close()
        with contextlib.suppress(OSError):
            os.unlink(conn.path)
