"""Intent journal: every mutation says what it will create before it does.

A mutation runs under the writers' lock in three steps, each durable:

1. *intent* -- before the first kernel object that would outlive the process
   (a pin, a TC filter, a qdisc, a swapped XDP program) the operation writes
   a journal entry listing what it is about to create;
2. *commit* -- the new records and, in the same LMDB transaction, the entry
   turned into the list of objects to retire (an old dispatcher revision, a
   detached link's pin), or deleted when there is nothing to retire;
3. *retire* -- the old objects are released and the entry deleted.

A crash leaves the entry behind. The next command, reader or writer, that
finds an entry while the writers' lock is free knows its writer died: a
``pending`` entry is rolled back (what it created is released, newest
first), a ``committed`` one rolled forward (what it retires is released).
Either way kernel, bpffs and state agree again, and an operation that fails
in-process is undone by exactly the same code. Releases are idempotent: a
released object that is already gone is fine.

Once the commit has succeeded the operation has happened, whatever follows:
if the entry cannot be deleted afterwards (a write error), that is a warning,
and the next command finishes the cleanup. Ctrl-C is held back while an
operation commits or rolls back, and delivered when it has.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING, Any

from bpfman.errors import StateError
from bpfman.logs import get_logger

from .model import Resource
from .state import Store, Txn

if TYPE_CHECKING:
    import signal
else:  # the C module alone: signal.py turns its constants into enums at import (2% of a
    import _signal as signal  # load file), and SIGINT, SIG_DFL and handlers work as ints

log = get_logger(__name__)
PENDING = "pending"
COMMITTED = "committed"
Releaser = Callable[[Resource], None]


class Operation:
    """One mutation's staged records and the kernel objects it creates and retires."""

    def __init__(self, store: Store, txn: Txn, release: Releaser, name: str) -> None:
        self.store = store
        self.txn = txn
        self.name = name
        self._release = release
        self.id = time.time_ns()
        self._created: list[Resource] = []
        self._retired: list[Resource] = []
        self._done = False

    def intend(self, *resources: Resource) -> None:
        """Durably record that these objects are about to be created."""
        if resources:
            self._created.extend(resources)
            self._write(PENDING, self._created)

    def retire(self, *resources: Resource) -> None:
        """Objects to remove once the new state is committed."""
        self._retired.extend(resources)

    def _entry(self, phase: str, resources: Iterable[Resource]) -> dict[str, Any]:
        return {
            "op": self.name,
            "phase": phase,
            "resources": [r.to_dict() for r in resources],
            "pid": os.getpid(),  # replay tells its own process's leftovers from a crash
        }

    def _write(self, phase: str, resources: Iterable[Resource]) -> None:
        side = Txn.staging_only()
        side.journal_put(self.id, self._entry(phase, resources))
        self.store.commit(side.staged)

    def commit(self) -> None:
        """Write the staged records; then release what the operation retires.

        Once the records are written the operation has happened: if its
        journal entry cannot be deleted after that, it says so and returns.
        """
        with _interrupts_held():
            if self._retired:
                self.txn.journal_put(self.id, self._entry(COMMITTED, self._retired))
            elif self._created:
                self.txn.journal_delete(self.id)
            self.store.commit(self.txn.staged)
            self._done = True
            if self._retired and release_all(self._retired, self._release):
                failed = self._clear()
                if failed is not None:
                    log.warning(
                        "warning: the %s is done, but its journal entry could not be removed "
                        "(%s); the next bpfman command removes it",
                        self.name,
                        failed,
                    )

    def abort(self) -> None:
        """Undo what was created, newest first (the in-process twin of a rollback).

        An entry that cannot be deleted is left to the next command, which
        rolls it back again (the error being raised already says the store
        failed).
        """
        if self._done:
            return
        with _interrupts_held():
            self._done = True
            if self._created and release_all(reversed(self._created), self._release):
                self._clear()

    def _clear(self) -> StateError | None:
        """Delete the entry; the error if that failed (the next command replays it)."""
        side = Txn.staging_only()
        side.journal_delete(self.id)
        try:
            self.store.commit(side.staged)
        except StateError as exc:
            return exc
        return None


@contextmanager
def _interrupts_held() -> Iterator[None]:
    """Hold SIGINT back until the block ends, then deliver it to the previous handler.

    A commit interrupted after LMDB wrote it, but before the operation knew,
    would be rolled back although recorded. Only the main thread receives
    signals, and a handler not set from Python cannot be restored: there
    the block runs as it is.
    """
    previous = signal.getsignal(signal.SIGINT)
    caught: list[FrameType | None] = []
    if previous is not None:
        try:
            signal.signal(signal.SIGINT, lambda _signum, frame: caught.append(frame))
        except ValueError:  # not the main thread (found so, without importing threading)
            previous = None
    if previous is None:
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if caught and callable(previous):
            previous(signal.SIGINT, caught[0])
        elif caught and previous == signal.SIG_DFL:
            signal.raise_signal(signal.SIGINT)


def release_all(resources: Iterable[Resource], release: Releaser) -> bool:
    """Release each resource; log (never swallow silently) the ones that fail."""
    ok = True
    for resource in resources:
        try:
            release(resource)
        except Exception as exc:  # keep going: the entry stays and is retried
            ok = False
            log.warning("could not release %s %s: %s", resource.kind, dict(resource.data), exc)
    return ok


def replay(store: Store, release: Releaser) -> int:
    """Finish what crashed writers, or failed cleanups, left in the journal.

    Call with the lock held.

    :returns: how many entries were found.
    """
    with store.snapshot() as txn:
        entries = txn.journal()
    for op_id, entry in entries:
        resources = [Resource.from_dict(r) for r in entry.get("resources", [])]
        # An entry of this process is one whose removal failed: it was said then.
        say = log.debug if entry.get("pid") == os.getpid() else log.warning
        if entry.get("phase") == PENDING:
            say("recovering from a crash: rolling back %s", entry.get("op"))
            resources.reverse()
        else:
            say("recovering from a crash: finishing %s", entry.get("op"))
        if release_all(resources, release):
            side = Txn.staging_only()
            side.journal_delete(op_id)
            store.commit(side.staged)
    return len(entries)
