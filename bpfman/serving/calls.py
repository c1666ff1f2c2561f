"""How the service's process answers a call, on bpfman.v1's socket or on CSI's.

Both gRPC servers of the process answer through :class:`Calls`: each call is
counted in the process's :class:`Activity` (the idle timer's measure: a
kubelet publishing volumes keeps the service up as an agent loading programs
does) and on its connection (the relay closes no connection with a call in
flight), it is logged with the caller's credentials, and a failure answers a
status code with the one-line message the CLI would print.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import grpc

from .status import status_of

if TYPE_CHECKING:
    from google.protobuf.message import Message

    from .listen import Credentials
    from .relay import Relay


class Refused(Exception):
    """A call refused before it did anything, with the status to answer (the service's
    admission: a mutation whose turn never came)."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code


class Activity:
    """The calls in flight in this process, and when the last one ended."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._in_flight = 0
        self._last = time.monotonic()

    @property
    def in_flight(self) -> int:
        with self._lock:
            return self._in_flight

    def idle_for(self) -> float:
        """Seconds since the last call ended; 0 while one runs."""
        with self._lock:
            return 0.0 if self._in_flight else time.monotonic() - self._last

    @contextlib.contextmanager
    def call(self) -> Iterator[None]:
        with self._lock:
            self._in_flight += 1
        try:
            yield
        finally:
            with self._lock:
                self._in_flight -= 1
                self._last = time.monotonic()


class Calls:
    """One server's way to answer: counted, logged, failures mapped to a status.

    :param relay: the server's relay, which maps a peer to the caller's
        credentials and is told when a connection has a call in flight.
    """

    def __init__(self, log: logging.Logger, relay: Relay | None, activity: Activity) -> None:
        self.log = log
        self.relay = relay
        self.activity = activity

    @contextlib.contextmanager
    def _on_connection(self, peer: str) -> Iterator[None]:
        if self.relay is None:
            yield
            return
        self.relay.call_started(peer)
        try:
            yield
        finally:
            self.relay.call_ended(peer)

    def answer(
        self,
        method: str,
        context: grpc.ServicerContext,
        work: Callable[[Credentials | None], Message],
        level: int = logging.DEBUG,
        about: str = "",
    ) -> Message:
        """``work(caller)``'s response, or the call aborted with its failure's status.

        The call and its duration are logged at ``level`` (with ``about``, a
        description of the request); failures at info, or as errors with their
        traceback when they are bpfman's own (INTERNAL).
        """
        peer = context.peer()
        with self.activity.call(), self._on_connection(peer):
            caller = self.relay.credentials(peer) if self.relay is not None else None
            who = str(caller) if caller else f"peer {peer}"
            self.log.log(level, "%s from %s%s", method, who, f": {about}" if about else "")
            started = time.monotonic()
            try:
                response = work(caller)
            except Refused as exc:
                code, message = exc.code, str(exc)
                self.log.info("%s from %s: %s: %s", method, who, code.name, message)
            except Exception as exc:
                code, message = status_of(exc)
                if code is grpc.StatusCode.INTERNAL:
                    self.log.error("%s from %s failed: %s", method, who, message, exc_info=exc)
                else:
                    self.log.info("%s from %s: %s: %s", method, who, code.name, message)
            else:
                elapsed = (time.monotonic() - started) * 1000
                self.log.log(level, "%s from %s: done in %.1f ms", method, who, elapsed)
                return response
        # outside the except block: abort raises, and must not chain the cause
        context.abort(code, message)
