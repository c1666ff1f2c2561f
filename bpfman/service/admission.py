"""When a mutating request runs, and what a retry of one gets.

Mutations take turns: one at a time in the service, and behind the state's
writers' lock like CLI writers, which may hold it as long as they like. So:

- Reads never queue behind writes: at most ``slots`` mutations hold a worker
  thread, waiting or running; one more is refused at once with
  RESOURCE_EXHAUSTED (nothing started), and the other workers stay free for
  List and Get.
- A mutation waits for its turn only while its client is there, its deadline
  has not passed and the service is not stopping. One whose turn comes too
  late is not started: the same check runs once more with the writers' lock
  taken (:data:`bpfman.core.manager.before_start`), before anything changes.
- A client may name a request with metadata ``bpfman-request-id``. A mutation
  that completed is remembered under its id (the last ``CAPACITY`` ids, for
  ``RETAIN`` seconds, in this service process), and the same request sent
  again with that id answers the first response without running again; one
  sent while the first still runs waits for it. A mutation that failed or never
  started is forgotten: sending it again runs it.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import grpc

from bpfman.core.manager import before_start
from bpfman.serving.calls import Refused

from .translate import RequestError

if TYPE_CHECKING:
    from google.protobuf.message import Message

    from bpfman.core.state import Store

REQUEST_ID = "bpfman-request-id"
MAX_REQUEST_ID = 256
RETAIN = 600.0
CAPACITY = 4096
POLL = 0.05  # how often a waiting mutation looks at its client, deadline and the lock


class NotStarted(Refused):
    """A mutation refused before it changed anything, with the status to answer."""


class Turns:
    """Mutations one at a time, waiting only as long as their caller does."""

    def __init__(self, store: Store, slots: int) -> None:
        self.store = store
        self.slots = slots
        self._free_slots = threading.BoundedSemaphore(slots)
        self._mine = threading.Lock()  # this service's writers, one at a time
        self.stopping = threading.Event()

    @contextlib.contextmanager
    def turn(self, context: grpc.ServicerContext, state: bool = True) -> Iterator[None]:
        """Wait for this mutation's turn (and, for one that changes the ``state``, for
        CLI writers); inside, the core checks once more under the writers' lock."""
        if not self._free_slots.acquire(blocking=False):
            raise NotStarted(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"{self.slots} changes are already waiting for their turn: not started, try again"
                " later",
            )
        try:
            self.wait(context, lambda t: self._mine.acquire(timeout=t), "its turn")
            try:
                if state:
                    self.wait(context, self._writers_lock_free, "the state's writers' lock")
                token = before_start.set(self._start_check(context))
                try:
                    yield
                finally:
                    before_start.reset(token)
            finally:
                self._mine.release()
        finally:
            self._free_slots.release()

    def wait(
        self, context: grpc.ServicerContext, ready: Callable[[float], bool], what: str
    ) -> None:
        """Until ``ready(timeout)`` says yes; :class:`NotStarted` when waiting is over."""
        while True:
            self._check(context, what)
            if ready(min(POLL, context.time_remaining())):
                return

    def _check(self, context: grpc.ServicerContext, what: str) -> None:
        if self.stopping.is_set():
            raise NotStarted(
                grpc.StatusCode.UNAVAILABLE, "the service is stopping: not started, send it again"
            )
        if context.time_remaining() <= 0:
            raise NotStarted(
                grpc.StatusCode.DEADLINE_EXCEEDED,
                f"the deadline passed while waiting for {what}: not started",
            )
        if not context.is_active():
            raise NotStarted(grpc.StatusCode.CANCELLED, "the client went away: not started")

    def _writers_lock_free(self, timeout: float) -> bool:
        """Whether no CLI writer holds the state's lock now (the core then takes it)."""
        if not os.path.exists(self.store.lock_file):
            return True
        with self.store.locked(blocking=False) as free:
            if free:
                return True
        self.stopping.wait(timeout)
        return False

    def _start_check(self, context: grpc.ServicerContext) -> Callable[[], None]:
        """The check the core runs with its lock taken: only before the first change.

        Unload takes the lock once per link; once it has started it goes on.
        """
        armed = True

        def check() -> None:
            nonlocal armed
            if armed:
                armed = False
                self._check(context, "the state's writers' lock")

        return check


@dataclass(eq=False)
class _Outcome:
    fingerprint: bytes
    done: threading.Event = field(default_factory=threading.Event)
    response: Message | None = None
    finished: float = 0.0


Key = tuple[int | None, str]


class Outcomes:
    """The responses of completed mutations, by caller and request id."""

    def __init__(self, retain: float = RETAIN, capacity: int = CAPACITY) -> None:
        self.retain = retain
        self.capacity = capacity
        self._lock = threading.Lock()
        self._outcomes: OrderedDict[Key, _Outcome] = OrderedDict()

    @staticmethod
    def key(context: grpc.ServicerContext, uid: int | None) -> Key | None:
        """The request id the client sent, if any, under the caller's uid."""
        for name, value in context.invocation_metadata() or ():
            if name == REQUEST_ID and value:
                if not isinstance(value, str) or len(value) > MAX_REQUEST_ID:
                    raise RequestError(
                        f"metadata {REQUEST_ID}: give a text of {MAX_REQUEST_ID} characters at most"
                    )
                return uid, value
        return None

    def claim(
        self,
        key: Key,
        method: str,
        request: Message,
        wait: Callable[[Callable[[float], bool]], None],
    ) -> Message | None:
        """The first response under ``key``, or None: the caller runs it, then :meth:`settle`."""
        fingerprint = hashlib.sha256(
            method.encode() + request.SerializeToString(deterministic=True)
        ).digest()
        while True:
            with self._lock:
                self._expire(time.monotonic())
                outcome = self._outcomes.get(key)
                if outcome is None:
                    self._outcomes[key] = _Outcome(fingerprint)
                    return None
                if outcome.fingerprint != fingerprint:
                    raise RequestError(
                        f"{REQUEST_ID} {key[1]!r} was already used for another request"
                    )
                if outcome.response is not None:
                    return outcome.response
                done = outcome.done
            wait(done.wait)  # the first one still runs: then take its response, or run

    def settle(self, key: Key, response: Message | None) -> None:
        """Remember ``response`` under ``key``; None (failed or not started) forgets it."""
        with self._lock:
            outcome = self._outcomes.get(key)
            if outcome is None:
                return
            if response is None:
                del self._outcomes[key]
            else:
                outcome.response = response
                outcome.finished = time.monotonic()
                self._outcomes.move_to_end(key)
            outcome.done.set()

    def _expire(self, now: float) -> None:
        finished = [k for k, o in self._outcomes.items() if o.response is not None]
        excess = len(self._outcomes) - self.capacity
        for k in finished:
            if excess <= 0 and now - self._outcomes[k].finished < self.retain:
                break
            del self._outcomes[k]
            excess -= 1
