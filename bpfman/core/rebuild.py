"""``bpfman system recover``: rebuilding records from what bpffs and the kernel hold.

A healthy store has interrupted operations finished and its records
reconciled with the kernel. When the store is lost or corrupt (``bpfman system recover --adopt`` or
``--remove``), or one record cannot be decoded, the records are made again
from the pins: each program's kernel info, each pinned link's, and each
plugin's hooks (dispatcher revisions, TC filters found in every reachable
namespace) -- or everything bpffs holds is released instead.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TypeVar

from bpfman import kernel
from bpfman.errors import (
    CorruptStateError,
    InvalidInputError,
    KernelError,
    NotFoundError,
    StateError,
)
from bpfman.logs import get_logger

from .bpffs import CORE_DIRS, KERNEL_ENTRIES, Layout, entries, holds_pins, is_pinned
from .journal import Operation, Releaser, replay
from .model import LinkRecord, ProgramRecord, Resource
from .recovery import handlers, reconcile
from .state import Store

if TYPE_CHECKING:
    from bpfman.config import Config

    from .plugins import Plugins

log = get_logger(__name__)
T = TypeVar("T")
MODES = ("adopt", "remove")


class Parts(Protocol):
    """What recovery works on (:class:`~bpfman.core.manager.Bpfman` has them): the
    config and the plugins are read only when a step needs them."""

    @property
    def store(self) -> Store: ...

    @property
    def layout(self) -> Layout: ...

    @property
    def config(self) -> Config: ...

    @property
    def plugins(self) -> Plugins: ...


def recover(parts: Parts, release: Releaser, mode: str | None) -> list[str]:
    """``bpfman system recover`` (call with the writers' lock held).

    :param release: how a journaled kernel object is released (the manager's).
    """
    if mode is not None and mode not in MODES:
        raise InvalidInputError(f"invalid recovery mode {mode!r}: use adopt or remove")
    store, layout = parts.store, parts.layout
    corrupt = False
    try:
        usable = store.exists()
    except CorruptStateError:
        usable, corrupt = False, True
    if usable or not holds_pins(layout.fs):
        if mode is not None and not corrupt:
            log.warning("the state store is healthy: nothing to %s", mode)
        # A corrupt store that nothing pinned depends on is set aside, not rebuilt.
        lines = set_aside(store) if corrupt else []
        store.prepare(fresh_ok=lambda: True)
        lines += [f"finished {n} interrupted operation(s)" for n in [replay(store, release)] if n]
        with store.snapshot() as txn:
            op = Operation(store, txn, release, "reconcile")
            lines += repair(op, parts)
            lines += reconcile(op, layout, parts.config, parts.plugins)
            op.commit()
        return lines or ["state and kernel agree: nothing to do"]
    if mode is None:
        raise StateError(
            f"the state store {store.data_file} is lost or corrupt while bpffs holds pins: "
            "choose `--adopt` (record what is pinned) or `--remove` (unpin everything)"
        )
    lines = set_aside(parts.store)
    store.prepare(fresh_ok=lambda: True)
    with store.snapshot() as txn:
        op = Operation(store, txn, release, f"recover --{mode}")
        lines += adopt(op, parts) if mode == "adopt" else remove(op, parts)
        op.commit()
    return lines


def set_aside(store: Store) -> list[str]:
    """Move a corrupt data file out of the way (kept for inspection)."""
    store.close(forget=True)
    data = store.data_file
    with contextlib.suppress(FileNotFoundError):
        os.unlink(os.path.join(store.path, "lock.mdb"))  # LMDB's lock file
    if not os.path.exists(data):
        return []
    kept = f"{data}.corrupt-{int(time.time())}"
    os.rename(data, kept)
    return [f"moved the unreadable store to {kept}"]


def remove(op: Operation, parts: Parts) -> list[str]:
    """Release everything pinned on bpfman's bpffs; plugins first (TC filters...)."""
    from .context import RecoverContext, Scope

    ctx = RecoverContext(Scope(op, parts.layout, parts.config))
    lines = []
    for handler in handlers(parts.plugins):
        lines += handler.sweep(ctx)
    for entry in entries(parts.layout.fs):
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


def adopt(op: Operation, parts: Parts) -> list[str]:
    """Record every pinned program, link and hook as if bpfman had just made them."""
    layout = parts.layout
    lines = []
    for entry in entries(layout.fs):
        if entry.name.startswith("prog_"):
            lines += _adopt_program(op, parts, entry.path)
    for entry in entries(layout.fs / "links"):
        lines += _adopt_link(op, entry.path)
    from .context import RecoverContext, Scope

    ctx = RecoverContext(Scope(op, layout, parts.config))
    for handler in handlers(parts.plugins):
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


def _adopt_program(op: Operation, parts: Parts, pin: str) -> list[str]:
    """A record for the program pinned at ``pin``, its type guessed from the kernel's.

    The kernel keeps 15 characters of the function name, the program's BTF
    the rest; plugins that find the program on one of their hooks (tcx
    links, dispatchers) set its type.
    """
    info = _pinned_info(pin, partial(kernel.prog_info, full_name=True))
    if info is None:
        return []
    types = parts.plugins.types
    named = kernel.prog_type_name(info.type)
    guess = named if named in types else None
    guess = guess or next((t.name for t in types.values() if t.kernel_type == info.type), named)
    map_dir = parts.layout.map_dir(info.id)
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
            anchor={"link": pin},  # on no recorded hook: the kernel is asked of it alone
        )
    )
    return [f"adopted link {name} of program {program.id} ({kind})"]


def repair(op: Operation, parts: Parts) -> list[str]:
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
            lines += _adopt_program(op, parts, str(parts.layout.prog_pin(number)))
        elif db == "links":
            lines += _adopt_link(op, str(parts.layout.link_pin(number)))
    txn.corrupt.clear()
    return lines


def _link_type_name(link_type: int) -> str:
    try:
        return kernel.LINK_TYPE(link_type).name.lower()
    except ValueError:
        return str(link_type)
