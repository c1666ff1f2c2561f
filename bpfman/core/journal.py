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
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from bpfman.logs import get_logger

from .model import Resource
from .state import Store, Txn

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
        return {"op": self.name, "phase": phase, "resources": [r.to_dict() for r in resources]}

    def _write(self, phase: str, resources: Iterable[Resource]) -> None:
        side = Txn.staging_only()
        side.journal_put(self.id, self._entry(phase, resources))
        self.store.commit(side.staged)

    def commit(self) -> None:
        """Write the staged records; then release what the operation retires."""
        if self._retired:
            self.txn.journal_put(self.id, self._entry(COMMITTED, self._retired))
        elif self._created:
            self.txn.journal_delete(self.id)
        self.store.commit(self.txn.staged)
        self._done = True
        if self._retired and release_all(self._retired, self._release):
            self._clear()

    def abort(self) -> None:
        """Undo what was created, newest first (the in-process twin of a rollback)."""
        if self._done:
            return
        self._done = True
        if self._created and release_all(reversed(self._created), self._release):
            self._clear()

    def _clear(self) -> None:
        side = Txn.staging_only()
        side.journal_delete(self.id)
        self.store.commit(side.staged)


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
    """Finish what crashed writers left in the journal (call with the lock held).

    :returns: how many entries were found.
    """
    with store.snapshot() as txn:
        entries = txn.journal()
    for op_id, entry in entries:
        resources = [Resource.from_dict(r) for r in entry.get("resources", [])]
        phase = entry.get("phase")
        if phase == PENDING:
            log.warning("recovering from a crash: rolling back %s", entry.get("op"))
            resources.reverse()
        else:
            log.warning("recovering from a crash: finishing %s", entry.get("op"))
        if release_all(resources, release):
            side = Txn.staging_only()
            side.journal_delete(op_id)
            store.commit(side.staged)
    return len(entries)
