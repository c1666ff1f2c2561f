"""Reconciling records with the kernel.

:func:`reconcile` runs after a crash was replayed (and on ``system
recover``): a recorded object that is gone is dropped with a log line, a
link the kernel detached behind bpfman's back (its interface, namespace,
cgroup or process gone, its pin removed) is detached the way ``detach``
does it, and a pin in one of bpfman's directories that nothing records is
removed. Entries bpfman does not recognise are logged and left alone. It
costs time in proportion to what is recorded, which is why only recovery
runs it, never a normal command.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from bpfman.errors import StateError
from bpfman.logs import get_logger

from .bpffs import Layout, entries, is_pinned
from .contract import Resource, TypeHandler
from .journal import Operation
from .liveness import Liveness

if TYPE_CHECKING:
    from bpfman.config import Config

    from .context import Scope
    from .model import LinkRecord, ProgramRecord
    from .plugins import Plugins

log = get_logger(__name__)
T = TypeVar("T")


def reconcile(op: Operation, layout: Layout, config: Config, plugins: Plugins) -> list[str]:
    """Make the records match the kernel; returns one line per change."""
    from .context import RecoverContext, Scope

    txn = op.txn
    done: list[str] = []
    dropped: set[str] = set()  # pins of the links dropped here, released after the commit

    def note(line: str) -> None:
        log.warning("reconcile: %s", line)
        done.append(line)

    def drop(link: LinkRecord) -> None:
        txn.delete_link(link)
        if link.pin:
            dropped.add(link.pin)
            op.retire(Resource.link(link.pin))

    for program in txn.programs():
        try:  # an older version's record may hold a relative path: read it re-anchored
            pin = layout.confine(program.pin)
        except StateError as exc:
            note(f"program {program.id} left as it is: {exc}")
            continue
        if not is_pinned(pin):
            note(f"program {program.id} is gone from the kernel: dropping its record")
            for link in txn.links_of(program.id):
                drop(link)
            txn.delete_program(program)
            if not txn.map_users(program.map_pin_path):
                op.retire(Resource.tree(program.map_pin_path))
    scope = Scope(op, layout, config)
    liveness = Liveness(txn, str(layout.links), per_hook=False)
    for link in txn.links():
        owner = txn.get_program(link.program_id)
        if owner is None:
            note(f"link {link.id} belongs to no program: dropping it")
            drop(link)
            continue
        why = liveness.detached(link)
        if why is not None:
            note(f"removed link {link.id} ({link.type} {link.attachment}): detached, {why}")
            detach_link(scope, plugins, owner, link)
            if link.pin:
                dropped.add(link.pin)
    ctx = RecoverContext(scope)
    for handler in handlers(plugins):
        handler.reconcile(ctx)
    done += _orphans(op, layout, dropped)
    return done


def detach_link(scope: Scope, plugins: Plugins, program: ProgramRecord, link: LinkRecord) -> None:
    """Take ``link`` off its hook through its plugin and drop its record."""
    from .context import DetachContext

    # Confined first: a link pin outside the bpffs stops the detach, its record kept.
    pinned = Resource.link(scope.layout.confine(link.pin)) if link.pin else None
    if link.type in plugins.types:
        plugins.handler(link.type).detach(DetachContext(scope, program, link))
    elif pinned is not None:  # the plugin is gone: a plain pinned link still goes
        scope.op.retire(pinned)
    scope.op.txn.delete_link(link)


def handlers(plugins: Plugins) -> list[TypeHandler[Any]]:
    seen: list[TypeHandler[Any]] = []
    for ptype in plugins.types.values():
        if all(ptype.handler is not h for h in seen):
            seen.append(ptype.handler)
    return seen


def _orphans(op: Operation, layout: Layout, dropped: set[str]) -> list[str]:
    """Pins in the core's directories that no record refers to (``dropped``: retired already)."""
    txn = op.txn
    programs = txn.programs()
    recorded = [p.pin for p in programs] + [link.pin for link in txn.links() if link.pin]
    wanted = _where(layout, recorded) | _where(layout, dropped)
    map_dirs = _where(layout, [p.map_pin_path for p in programs])
    lines = []
    candidates = [e for e in entries(layout.fs) if e.name.startswith("prog_")]
    candidates += list(entries(layout.fs / "links"))
    for entry in candidates:
        if entry.path in wanted:
            continue
        if entry.is_dir(follow_symlinks=False) or entry.is_symlink():
            log.warning("reconcile: ignoring %s: not something bpfman pins", entry.path)
            continue
        lines.append(f"removing {entry.path}: pinned but not recorded")
        is_link = os.path.dirname(entry.path) == str(layout.fs / "links")
        op.retire(Resource.link(entry.path) if is_link else Resource.pin(entry.path))
    for entry in entries(layout.fs / "maps"):
        if entry.path not in map_dirs and entry.is_dir(follow_symlinks=False):
            lines.append(f"removing {entry.path}: maps of no recorded program")
            op.retire(Resource.tree(entry.path))
    for line in lines:
        log.warning("reconcile: %s", line)
    return lines


def _where(layout: Layout, recorded: Iterable[str]) -> set[str]:
    """The paths records name, as acted on: re-anchored (an older version's relative
    ones); one pointing outside the bpffs names nothing of ours."""
    found = set()
    for path in recorded:
        try:
            found.add(str(layout.confine(path)))
        except StateError:
            continue
    return found
