"""Reconciling records with the kernel, and rebuilding a lost store.

:func:`reconcile` runs after a crash was replayed (and on ``system
recover``): a recorded object that is gone is dropped with a log line, and a
pin in one of bpfman's directories that nothing records is removed. Entries
bpfman does not recognise are logged and left alone. :func:`recover` also
rebuilds a store that is missing or corrupt, by adopting or removing what
bpffs holds, as the user chooses. Both cost time in proportion to what is
recorded, which is why only recovery runs them, never a normal command.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from bpfman import kernel

from .bpffs import CORE_DIRS, KERNEL_ENTRIES, Layout, entries, holds_pins, is_pinned
from .contract import Resource, TypeHandler
from .errors import (
    CorruptStateError,
    InvalidInputError,
    KernelError,
    NotFoundError,
    StateError,
)
from .journal import Operation, replay
from .logs import get_logger
from .model import ProgramRecord

if TYPE_CHECKING:
    from .config import Config
    from .manager import Bpfman
    from .plugins import Plugins

log = get_logger(__name__)
T = TypeVar("T")
MODES = ("adopt", "remove")


def reconcile(op: Operation, layout: Layout, config: Config, plugins: Plugins) -> list[str]:
    """Make the records match the kernel; returns one line per change."""
    from .context import RecoverContext

    txn = op.txn
    done: list[str] = []

    def note(line: str) -> None:
        log.warning("reconcile: %s", line)
        done.append(line)

    for program in txn.programs():
        if not is_pinned(program.pin):
            note(f"program {program.id} is gone from the kernel: dropping its record")
            for link in txn.links_of(program.id):
                txn.delete_link(link)
                if link.pin:
                    op.retire(Resource.link(link.pin))
            txn.delete_program(program)
            if not txn.map_users(program.map_pin_path):
                op.retire(Resource.tree(program.map_pin_path))
    for link in txn.links():
        if txn.get_program(link.program_id) is None:
            note(f"link {link.id} belongs to no program: dropping it")
        elif link.pin and not is_pinned(link.pin):
            note(f"link {link.id} is gone from the kernel: dropping its record")
        else:
            continue
        txn.delete_link(link)
        if link.pin:
            op.retire(Resource.link(link.pin))
    ctx = RecoverContext(op, layout, config)
    for handler in _handlers(plugins):
        handler.reconcile(ctx)
    done += _orphans(op, layout)
    return done


def _handlers(plugins: Plugins) -> list[TypeHandler[Any]]:
    seen: list[TypeHandler[Any]] = []
    for ptype in plugins.types.values():
        if all(ptype.handler is not h for h in seen):
            seen.append(ptype.handler)
    return seen


def _orphans(op: Operation, layout: Layout) -> list[str]:
    """Pins in the core's directories that no record refers to."""
    txn = op.txn
    programs = txn.programs()
    wanted = {p.pin for p in programs} | {link.pin for link in txn.links() if link.pin}
    map_dirs = {p.map_pin_path for p in programs}
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


def recover(bpfman: Bpfman, mode: str | None) -> list[str]:
    """``bpfman system recover`` (call with the writers' lock held)."""
    if mode is not None and mode not in MODES:
        raise InvalidInputError(f"invalid recovery mode {mode!r}: use adopt or remove")
    store, layout = bpfman.store, bpfman.layout
    try:
        usable = store.exists()
    except CorruptStateError:
        usable = False
    if usable or not holds_pins(layout.fs):
        if mode is not None:
            log.warning("the state store is healthy: nothing to %s", mode)
        store.prepare(fresh_ok=lambda: True)
        lines = [
            f"finished {n} interrupted operation(s)" for n in [replay(store, bpfman._release)] if n
        ]
        with store.snapshot() as txn:
            op = Operation(store, txn, bpfman._release, "reconcile")
            lines += _repair(op, bpfman)
            lines += reconcile(op, layout, bpfman.config, bpfman.plugins)
            op.commit()
        return lines or ["state and kernel agree: nothing to do"]
    if mode is None:
        raise StateError(
            f"the state store {store.data_file} is lost or corrupt while bpffs holds pins: "
            "choose `--adopt` (record what is pinned) or `--remove` (unpin everything)"
        )
    lines = _set_aside(bpfman)
    store.prepare(fresh_ok=lambda: True)
    with store.snapshot() as txn:
        op = Operation(store, txn, bpfman._release, f"recover --{mode}")
        lines += _adopt(op, bpfman) if mode == "adopt" else _remove(op, bpfman)
        op.commit()
    return lines


def _set_aside(bpfman: Bpfman) -> list[str]:
    """Move a corrupt data file out of the way (kept for inspection)."""
    bpfman.store.close()
    data = bpfman.store.data_file
    if not data.exists():
        return []
    kept = data.with_name(f"data.mdb.corrupt-{int(time.time())}")
    os.rename(data, kept)
    lock = data.with_name("lock.mdb")
    lock.unlink(missing_ok=True)
    return [f"moved the unreadable store to {kept}"]


def _remove(op: Operation, bpfman: Bpfman) -> list[str]:
    """Release everything pinned on bpfman's bpffs; plugins first (TC filters...)."""
    from .context import RecoverContext

    ctx = RecoverContext(op, bpfman.layout, bpfman.config)
    lines = []
    for handler in _handlers(bpfman.plugins):
        lines += handler.sweep(ctx)
    for entry in entries(bpfman.layout.fs):
        if entry.name in KERNEL_ENTRIES:
            continue
        if entry.name in CORE_DIRS:
            for inner in entries(Path(entry.path)):
                lines.append(f"removing {inner.path}")
                op.retire(Resource.tree(inner.path))
        else:
            lines.append(f"removing {entry.path}")
            op.retire(Resource.tree(entry.path))
    return lines


def _adopt(op: Operation, bpfman: Bpfman) -> list[str]:
    """Record every pinned program, link and hook as if bpfman had just made them."""
    layout = bpfman.layout
    lines = []
    for entry in entries(layout.fs):
        if entry.name.startswith("prog_"):
            lines += _adopt_program(op, bpfman, entry.path)
    for entry in entries(layout.fs / "links"):
        lines += _adopt_link(op, entry.path)
    from .context import RecoverContext

    ctx = RecoverContext(op, layout, bpfman.config)
    for handler in _handlers(bpfman.plugins):
        lines += handler.adopt(ctx)
    return lines


def _pinned_info(pin: str, read: Callable[[int], T]) -> T | None:
    """What the kernel says of the object pinned at ``pin``; None (logged) if unreadable."""
    if not is_pinned(pin):
        return None
    try:
        with kernel.obj_get(pin) as fd:
            return read(fd.fd)
    except (NotFoundError, KernelError) as exc:
        log.warning("recover: cannot open %s: %s", pin, exc)
        return None


def _adopt_program(op: Operation, bpfman: Bpfman, pin: str) -> list[str]:
    """A record for the program pinned at ``pin``, its type guessed from the kernel's.

    The kernel keeps 15 characters of the function name; plugins that find
    the program on one of their hooks (tcx links, dispatchers) set its type.
    """
    info = _pinned_info(pin, kernel.prog_info)
    if info is None:
        return []
    types = bpfman.plugins.types
    named = kernel.prog_type_name(info.type)
    guess = named if named in types else None
    guess = guess or next((t.name for t in types.values() if t.kernel_type == info.type), named)
    map_dir = bpfman.layout.map_dir(info.id)
    record = ProgramRecord(
        id=info.id,
        name=info.name,
        type=guess,
        kernel_type=info.type,
        source={"adopted": pin},
        pin=pin,
        map_pin_path=str(map_dir) if os.path.isdir(map_dir) else "",
    )
    op.txn.put_program(record)
    return [f"adopted program {info.id} ({info.name}, {record.type})"]


def _adopt_link(op: Operation, pin: str) -> list[str]:
    """A record for a plain pinned link of an adopted program, described by the kernel."""
    from .model import LinkRecord

    name = os.path.basename(pin)
    info = _pinned_info(pin, kernel.link_info) if name.isdigit() else None
    if info is None:
        return []
    program = op.txn.get_program(info.prog_id)
    if program is None:
        return []
    kind = _link_type_name(info.type)
    if info.type == kernel.LINK_TYPE.TCX and program.type != "tcx":
        program.type = "tcx"
        op.txn.put_program(program)
    op.txn.put_link(
        LinkRecord(
            id=int(name),
            program_id=program.id,
            type=program.type,
            params={"kernel_link_id": info.id, "link_type": kind},
            seq=op.txn.next_seq(),
            pin=pin,
            attachment=f"adopted {kind} link {info.id}",
            rows=[["Kernel Link ID", str(info.id)], ["Link Type", kind]],
        )
    )
    return [f"adopted link {name} of program {program.id} ({kind})"]


def _repair(op: Operation, bpfman: Bpfman) -> list[str]:
    """Records that cannot be decoded: adopt what their pins hold, or drop them."""
    txn = op.txn
    txn.programs()
    txn.links()
    lines = []
    for db, key in list(txn.corrupt):
        txn.raw_delete(db, key)
        number = int.from_bytes(key, "big")
        lines.append(f"dropped the unreadable {db} record {number}")
        if db == "programs":
            lines += _adopt_program(op, bpfman, str(bpfman.layout.prog_pin(number)))
        elif db == "links":
            lines += _adopt_link(op, str(bpfman.layout.link_pin(number)))
    txn.corrupt.clear()
    return lines


def _link_type_name(link_type: int) -> str:
    try:
        return kernel.LINK_TYPE(link_type).name.lower()
    except ValueError:
        return str(link_type)
