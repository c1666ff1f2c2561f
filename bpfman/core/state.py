"""Persistent state: LMDB with msgpack values, and the writers' lock.

Every CLI call is its own process and several may run at once (the service
adds threads). Writers serialise on an exclusive ``flock`` of
``db/writer.lock`` held for the whole mutation; inside it they read a
snapshot, stage their changes in memory (:class:`Txn`) and write them in one
short LMDB transaction at the end. Readers take no lock at all: LMDB gives
them a consistent snapshot and they never wait for a writer.

State describes kernel objects that vanish at reboot, so the store remembers
the boot id it was written under and forgets everything from another boot.
Besides the records it keeps three indexes (links by hook, links by program,
programs by map owner), so an operation costs the same with 10 programs
loaded as with 1,000, and the intent journal (:mod:`.journal`).
"""

from __future__ import annotations

import _thread
import fcntl
import os
import struct
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress

import lmdb
import msgpack

from bpfman.errors import CorruptStateError, LockTimeoutError, StateError
from bpfman.kernel.limits import FD_ERRNOS, exhausted, fd_error
from bpfman.lmdb_header import check_data_file, corrupt_message
from bpfman.logs import get_logger

from .model import LinkRecord, ProgramRecord
from .root import DATA_FILE, LOCK_FILE

TYPE_CHECKING = False  # typing itself costs ``list`` a seventh of its time
if TYPE_CHECKING:
    from os import PathLike
    from typing import Any, TypeVar

    R = TypeVar("R")

# 3: links record what they hang on (``anchor``); an older bpfman would read them as corrupt.
SCHEMA_VERSION = 3
log = get_logger(__name__)
_MAP_SIZE = 1 << 30  # address space only: the file grows with what is written
_DBS = (
    b"meta",
    b"programs",
    b"links",
    b"plugins",
    b"journal",
    b"links_by_hook",
    b"links_by_program",
    b"map_users",
)
_BOOT_ID = "/proc/sys/kernel/random/boot_id"
_NOTICE_AFTER = 1.0  # seconds a writer waits for the lock before it says for whom
_POLL = 0.02  # the longest pause between two tries for the lock
_SHOWN = 160  # characters of the holder's command line shown


def _id_key(n: int) -> bytes:
    return struct.pack(">I", n)


def _pack(value: Any) -> bytes:
    data: bytes = msgpack.packb(value, use_bin_type=True)
    return data


def _unpack(data: bytes | memoryview) -> Any:
    return msgpack.unpackb(bytes(data), raw=False, strict_map_key=False)


def current_boot_id() -> str:
    try:
        with open(_BOOT_ID) as f:
            return f.read().strip()
    except OSError as exc:
        if exc.errno in FD_ERRNOS:  # "" would make every record look like another boot's
            raise fd_error(f"read {_BOOT_ID}", exc.errno) from None
        return ""


class Txn:
    """Typed access to the records: a snapshot plus, for writers, staged changes.

    Reads see the staged changes; :meth:`Store.commit` writes them in one
    LMDB transaction. A record that cannot be decoded is skipped by scans
    (and logged), so one bad record never hides the others.
    """

    def __init__(
        self,
        txn: lmdb.Transaction | None,
        dbs: dict[bytes, Any],
        write: bool,
        quiet: bool = False,
    ) -> None:
        self._txn = txn
        self._dbs = dbs
        self.write = write
        self.quiet = quiet  # corrupt records are only noted in ``corrupt``, not logged
        self.staged: dict[tuple[bytes, bytes], bytes | None] = {}
        self.corrupt: list[tuple[str, bytes]] = []

    @classmethod
    def staging_only(cls) -> Txn:
        """Changes to commit on their own, read from nowhere (journal writes)."""
        return cls(None, {}, True)

    # -- raw access with staged changes ---------------------------------------
    def _get(self, db: bytes, key: bytes) -> bytes | None:
        if (db, key) in self.staged:
            return self.staged[db, key]
        handle = self._dbs.get(db)
        if handle is None or self._txn is None:
            return None
        raw = self._txn.get(key, db=handle)
        return None if raw is None else bytes(raw)

    def _scan(self, db: bytes, prefix: bytes = b"") -> list[tuple[bytes, bytes]]:
        """The entries whose keys start with ``prefix``, by key, staged changes applied."""
        stored: list[tuple[bytes, bytes]] = []
        handle = self._dbs.get(db)
        if handle is not None and self._txn is not None:
            cur = self._txn.cursor(db=handle)
            if cur.set_range(prefix):
                for raw_key, raw_value in cur:
                    key = bytes(raw_key)  # bytes already (no buffers asked for): no copy
                    if not key.startswith(prefix):
                        break
                    stored.append((key, bytes(raw_value)))
        staged = [
            (skey, value)
            for (sdb, skey), value in self.staged.items()
            if sdb == db and skey.startswith(prefix)
        ]
        if not staged:  # every reader, and most of a writer's scans: LMDB's order is the key's
            return stored
        found = dict(stored)
        for key, value in staged:
            if value is None:
                found.pop(key, None)
            else:
                found[key] = value
        return sorted(found.items())

    def _put(self, db: bytes, key: bytes, value: bytes) -> None:
        if not self.write:
            raise StateError("internal: write to a read-only snapshot")
        self.staged[db, key] = value

    def _delete(self, db: bytes, key: bytes) -> None:
        if not self.write:
            raise StateError("internal: write to a read-only snapshot")
        self.staged[db, key] = None

    def _decode(
        self, db: bytes, key: bytes, raw: bytes, build: Callable[[Any], R], quiet: bool = False
    ) -> R | None:
        try:
            return build(_unpack(raw))
        except Exception as exc:  # any malformed record: msgpack, type or key errors
            if not (quiet or self.quiet):
                log.warning(
                    "warning: skipping the corrupt %s record %d (%s); run `bpfman system recover`",
                    db.decode().rstrip("s"),
                    int.from_bytes(key[-4:], "big"),
                    type(exc).__name__,
                )
            self.corrupt.append((db.decode(), key))
            return None

    def _record(self, db: bytes, key: bytes, build: Callable[[Any], R]) -> R | None:
        raw = self._get(db, key)
        if raw is None:
            return None
        record = self._decode(db, key, raw, build, quiet=True)
        if record is None:
            raise CorruptStateError(
                f"the state record {db.decode()}/{int.from_bytes(key, 'big')} is corrupt: "
                "run `bpfman system recover`"
            )
        return record

    def _records(self, db: bytes, build: Callable[[Any], R], prefix: bytes = b"") -> list[R]:
        out = []
        for key, raw in self._scan(db, prefix):
            try:  # _decode's work, inline: ``list`` decodes every record of the store this way
                out.append(build(_unpack(raw)))
            except Exception:  # a malformed record: _decode says so, and notes it
                self._decode(db, key, raw, build)
        return out

    # -- programs -----------------------------------------------------------
    def get_program(self, program_id: int) -> ProgramRecord | None:
        return self._record(b"programs", _id_key(program_id), ProgramRecord.from_dict)

    def programs(self) -> list[ProgramRecord]:
        return self._records(b"programs", ProgramRecord.from_dict)

    def put_program(self, record: ProgramRecord) -> None:
        self._put(b"programs", _id_key(record.id), _pack(record.to_dict()))
        self._put(b"map_users", _map_user_key(record), b"")

    def delete_program(self, record: ProgramRecord) -> None:
        self._delete(b"programs", _id_key(record.id))
        self._delete(b"map_users", _map_user_key(record))

    def map_users(self, map_pin_path: str) -> list[int]:
        """Ids of the programs that use the maps pinned at ``map_pin_path``."""
        prefix = map_pin_path.encode() + b"\0"
        return [
            int.from_bytes(k[len(prefix) :], "big") for k, _ in self._scan(b"map_users", prefix)
        ]

    # -- links --------------------------------------------------------------
    def get_link(self, link_id: int) -> LinkRecord | None:
        return self._record(b"links", _id_key(link_id), LinkRecord.from_dict)

    def links(self) -> list[LinkRecord]:
        return self._records(b"links", LinkRecord.from_dict)

    def _indexed_links(self, index: bytes, prefix: bytes) -> list[LinkRecord]:
        out = []
        for key, _ in self._scan(index, prefix):
            link = self.get_link(int.from_bytes(key[-4:], "big"))
            if link is not None:
                out.append(link)
        return out

    def links_of(self, program_id: int) -> list[LinkRecord]:
        """The program's links, in attach order."""
        links = self._indexed_links(b"links_by_program", _id_key(program_id))
        return sorted(links, key=lambda link: link.seq)

    def links_on_hook(self, hook: str) -> list[LinkRecord]:
        """The links sharing ``hook``, in run order."""
        links = self._indexed_links(b"links_by_hook", hook.encode() + b"\0")
        return sorted(links, key=lambda link: link.order_key)

    def put_link(self, record: LinkRecord) -> None:
        self._put(b"links", _id_key(record.id), _pack(record.to_dict()))
        self._put(b"links_by_program", _id_key(record.program_id) + _id_key(record.id), b"")
        if record.hook is not None:
            self._put(b"links_by_hook", record.hook.encode() + b"\0" + _id_key(record.id), b"")

    def delete_link(self, record: LinkRecord) -> None:
        self._delete(b"links", _id_key(record.id))
        self._delete(b"links_by_program", _id_key(record.program_id) + _id_key(record.id))
        if record.hook is not None:
            self._delete(b"links_by_hook", record.hook.encode() + b"\0" + _id_key(record.id))

    def link_ids(self) -> dict[int, list[int]]:
        """Each program's link ids, in attach order (``list programs`` shows them)."""
        ids: dict[int, list[int]] = {}
        for link in sorted(self.links(), key=_by_seq):
            ids.setdefault(link.program_id, []).append(link.id)
        return ids

    def link_exists(self, link_id: int) -> bool:
        return self._get(b"links", _id_key(link_id)) is not None

    def new_link_id(self) -> int:
        """A random u32 link id, never one that is alive."""
        while True:
            candidate = int.from_bytes(os.urandom(4), "little")
            if candidate and not self.link_exists(candidate):
                return candidate

    def next_seq(self) -> int:
        """A counter that only grows; orders links attached at equal priority."""
        raw = self._get(b"meta", b"seq")
        seq = 0 if raw is None else int(_unpack(raw))
        self._put(b"meta", b"seq", _pack(seq + 1))
        return seq

    # -- plugin-owned records -----------------------------------------------
    def plugin_get(self, namespace: str, key: str) -> Any:
        raw = self._get(b"plugins", f"{namespace}\0{key}".encode())
        return None if raw is None else _unpack(raw)

    def plugin_put(self, namespace: str, key: str, value: Any) -> None:
        self._put(b"plugins", f"{namespace}\0{key}".encode(), _pack(value))

    def plugin_delete(self, namespace: str, key: str) -> None:
        self._delete(b"plugins", f"{namespace}\0{key}".encode())

    def plugin_items(self, namespace: str) -> list[tuple[str, Any]]:
        prefix = f"{namespace}\0".encode()
        out = []
        for key, raw in self._scan(b"plugins", prefix):
            value = self._decode(b"plugins", key, raw, lambda v: v)
            if value is not None:
                out.append((key[len(prefix) :].decode(), value))
        return out

    # -- the intent journal -------------------------------------------------
    def journal(self) -> list[tuple[int, dict[str, Any]]]:
        out = []
        for key, raw in self._scan(b"journal"):
            entry = self._decode(b"journal", key, raw, dict)
            if entry is not None:
                out.append((int.from_bytes(key, "big"), entry))
        return out

    def journal_put(self, op_id: int, entry: dict[str, Any]) -> None:
        self._put(b"journal", op_id.to_bytes(8, "big"), _pack(entry))

    def journal_delete(self, op_id: int) -> None:
        self._delete(b"journal", op_id.to_bytes(8, "big"))

    def raw_delete(self, db: str, key: bytes) -> None:
        """Drop a record by its key (recovery removes undecodable ones this way)."""
        self._delete(db.encode(), key)

    def meta_get(self, key: str) -> Any:
        raw = self._get(b"meta", key.encode())
        return None if raw is None else _unpack(raw)

    def meta_put(self, key: str, value: Any) -> None:
        self._put(b"meta", key.encode(), _pack(value))


def _by_seq(link: LinkRecord) -> int:
    return link.seq


def _map_user_key(record: ProgramRecord) -> bytes:
    return record.map_pin_path.encode() + b"\0" + _id_key(record.id)


class _Shared:
    """An open LMDB environment and its named databases, with a count of its users."""

    def __init__(self, env: lmdb.Environment) -> None:
        self.env = env
        self.dbs: dict[bytes, Any] = {}
        self.users = 0
        self.stale = False  # its file was set aside: users reopen the new one


# LMDB forbids opening one environment twice in a process (the second open fails,
# and closing either would drop the other's locks), so every Store of one path in
# this process shares one: an embedder may hold two Bpfman objects on one root.
_OPEN: dict[str, _Shared] = {}
_OPEN_LOCK = _thread.allocate_lock()  # threading's Lock, without importing threading


class Store:
    """The LMDB environment in a root's ``db/`` and the writers' lock beside it."""

    def __init__(self, path: str | PathLike[str]) -> None:
        self.path = path
        self.data_file = os.path.join(path, DATA_FILE)
        self.lock_file = os.path.join(path, LOCK_FILE)
        self._key = os.path.realpath(path)
        self._shared: _Shared | None = None

    def exists(self) -> bool:
        return check_data_file(self.data_file) > 0

    def _open(self) -> lmdb.Environment:
        with _OPEN_LOCK:
            shared = self._shared
            if shared is not None and shared.stale:
                self._leave(shared)
                shared = None
            if shared is None:
                shared = _OPEN.get(self._key)
                if shared is None:
                    shared = _OPEN[self._key] = _Shared(self._open_env())
                shared.users += 1
                self._shared = shared
            return shared.env

    def _open_env(self) -> lmdb.Environment:
        check_data_file(self.data_file)
        try:
            # No fsync: a commit is in the page cache, where every later
            # process sees it, the moment it returns; what only a power
            # loss could undo describes kernel objects that die with the
            # OS (and the boot id clears it at the next start).
            return lmdb.open(
                str(self.path),
                max_dbs=len(_DBS),
                map_size=_MAP_SIZE,
                mode=0o600,
                sync=False,
            )
        except lmdb.Error as exc:
            if short := exhausted(str(exc)):  # not damage: no fd was left to open it
                raise fd_error(f"open the state store {self.path}", short) from exc
            raise CorruptStateError(corrupt_message(self.path, str(exc))) from exc
        except OSError as exc:
            if exc.errno in FD_ERRNOS:
                raise fd_error(f"open the state store {self.path}", exc.errno) from exc
            raise StateError(f"cannot open state store {self.path}: {exc.strerror}") from exc

    # -- readers ------------------------------------------------------------
    @contextmanager
    def read(self, quiet: bool = False) -> Iterator[Txn]:
        """A snapshot; never waits for a writer, never writes.

        Records of another boot describe kernel objects that are gone: a
        reader sees them as absent (the next writer clears them). ``quiet``:
        corrupt records are noted in :attr:`Txn.corrupt` without a warning.
        """
        env = self._open()
        with env.begin(write=False) as txn:
            dbs = {name: _open_existing(env, txn, name) for name in _DBS}
            view = Txn(txn, {k: v for k, v in dbs.items() if v is not None}, False, quiet)
            if _stale(view):
                view = Txn(txn, {}, False, quiet)
            yield view

    # -- writers ------------------------------------------------------------
    @contextmanager
    def locked(self, blocking: bool = True, timeout: float | None = None) -> Iterator[bool]:
        """Hold the writers' lock; with ``blocking=False`` yield False if it is taken.

        A blocked writer says once, after a second, which process it waits
        for; with ``timeout`` (seconds) it gives up then with
        :class:`LockTimeoutError`, having changed nothing.
        """
        flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            fd = os.open(self.lock_file, flags, 0o600)
        except OSError as exc:
            raise StateError(f"cannot open the lock {self.lock_file}: {exc.strerror}") from None
        try:
            if not _try_lock(fd) and not (blocking and self._wait(fd, timeout)):
                yield False
                return
            _record_holder(fd)
            try:
                yield True
            finally:
                _forget_holder(fd)
        finally:
            os.close(fd)  # releases the lock

    def _wait(self, fd: int, timeout: float | None) -> bool:
        """Poll for the lock (a blocking ``flock`` could not time out); True once taken."""
        start = time.monotonic()
        delay, noticed = 0.002, False
        while True:
            waited = time.monotonic() - start
            if timeout is not None and waited >= timeout:
                raise LockTimeoutError(
                    f"gave up after {timeout:g} s waiting for bpfman's state lock "
                    f"{self.lock_file}, held by {_holder(fd)}; try again later, or wait "
                    "longer (--lock-timeout)"
                )
            if not noticed and waited >= _NOTICE_AFTER:
                noticed = True
                log.warning("waiting for bpfman's state lock, held by %s", _holder(fd))
            time.sleep(delay)
            delay = min(delay * 2, _POLL)
            if _try_lock(fd):
                return True

    def _writable_dbs(self, env: lmdb.Environment) -> dict[bytes, Any]:
        assert self._shared is not None  # opened by the caller
        if not self._shared.dbs:
            with env.begin(write=True) as txn:
                self._shared.dbs = {name: env.open_db(name, txn=txn) for name in _DBS}
        return self._shared.dbs

    @contextmanager
    def snapshot(self) -> Iterator[Txn]:
        """A writer's view (call with the lock held): a snapshot that stages changes."""
        env = self._open()
        dbs = self._writable_dbs(env)
        with env.begin(write=False) as txn:
            yield Txn(txn, dbs, True)

    def commit(self, staged: dict[tuple[bytes, bytes], bytes | None]) -> None:
        """Write staged changes in one LMDB transaction (call with the lock held)."""
        if not staged:
            return
        env = self._open()
        dbs = self._writable_dbs(env)
        try:
            with env.begin(write=True) as txn:
                for (db, key), value in staged.items():
                    if value is None:
                        txn.delete(key, db=dbs[db])
                    else:
                        txn.put(key, value, db=dbs[db])
        except lmdb.MapFullError:
            raise StateError(
                f"state store {self.path} is full ({_MAP_SIZE >> 20} MiB): unload programs "
                "you no longer need"
            ) from None
        except lmdb.Error as exc:
            self._drop_if_panicked(env)
            raise StateError(f"cannot write state store {self.path}: {exc}") from exc

    def _drop_if_panicked(self, env: lmdb.Environment) -> None:
        """Let go of an environment a failed write left unusable, so the next use reopens.

        When the meta page cannot be written LMDB marks the environment
        fatally broken for this process (MDB_PANIC on every later
        transaction); the file itself still holds the last good commit.
        """
        try:
            env.begin().abort()
        except lmdb.Error:  # MDB_PANIC, or already closed by another store of this path
            self.close(forget=True)

    def prepare(self, fresh_ok: Callable[[], bool]) -> None:
        """Make the store usable by a writer (call with the lock held).

        A new store is created only when ``fresh_ok()`` says nothing in the
        kernel depends on a lost one; records of another boot are cleared.
        """
        if not self.exists() and not fresh_ok():
            from bpfman.errors import LostStateError

            raise LostStateError(
                f"state store {self.data_file} is missing or empty, but bpfman's bpffs still "
                "holds pinned programs: run `bpfman system recover --adopt` to rebuild the "
                "records, or `bpfman system recover --remove` to remove what is pinned"
            )
        with self.snapshot() as txn:
            version = txn.meta_get("schema")
            if version is not None and version > SCHEMA_VERSION:
                raise StateError(
                    f"state store {self.path} has schema {version}, "
                    f"this bpfman expects {SCHEMA_VERSION} or older"
                )
            boot = current_boot_id()
            if txn.meta_get("boot_id") == boot and version == SCHEMA_VERSION:
                return
            if txn.meta_get("boot_id") not in (None, boot):
                log.info("state store %s is from another boot: clearing it", self.path)
                for name in _DBS:
                    for key, _ in txn._scan(name):
                        txn._delete(name, key)
            elif version is not None and version < SCHEMA_VERSION:
                _migrate(txn, version)
            txn.meta_put("schema", SCHEMA_VERSION)
            txn.meta_put("boot_id", boot)
            self.commit(txn.staged)

    def size(self) -> int:
        """Bytes the data file takes (metrics)."""
        try:
            return os.stat(self.data_file).st_size
        except OSError:
            return 0

    def close(self, forget: bool = False) -> None:
        """Let go of the environment (closed when its last user in this process leaves).

        ``forget``: the file is about to be replaced, so the next open in this
        process must map the new one even while others still hold the old.
        """
        with _OPEN_LOCK:
            if forget:
                for shared in (self._shared, _OPEN.pop(self._key, None)):
                    if shared is not None:  # closing twice is a no-op in lmdb
                        shared.stale = True
                        shared.env.close()  # other stores' next _open maps the new file
            if self._shared is not None:
                self._leave(self._shared)

    def _leave(self, shared: _Shared) -> None:
        """Drop this store's use of ``shared`` (call with ``_OPEN_LOCK`` held)."""
        self._shared = None
        shared.users -= 1
        if shared.users == 0:
            shared.env.close()  # a no-op when it was closed as stale
            if _OPEN.get(self._key) is shared:
                del _OPEN[self._key]


def _try_lock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _record_holder(fd: int) -> None:
    """Write who holds the lock into the lock file, for writers that wait.

    ``pid start-time`` then the command line: the start time tells a live
    holder from a later process that reuses its pid. Best effort: a full
    disk must not stop the operation.
    """
    with suppress(OSError):
        with open("/proc/self/cmdline", "rb") as f:
            argv = f.read().rstrip(b"\0")
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()} {_start_time('self')}\n".encode() + argv)


def _forget_holder(fd: int) -> None:
    with suppress(OSError):
        os.ftruncate(fd, 0)


def _start_time(pid: str) -> str:
    """The process's start time in clock ticks since boot (field 22 of its stat)."""
    with open(f"/proc/{pid}/stat", "rb") as f:
        return f.read().rsplit(b")", 1)[1].split()[19].decode()


def _holder(fd: int) -> str:
    """Who holds the lock, as a waiter can tell from the lock file and /proc."""
    try:
        head, _, argv = os.pread(fd, 4096, 0).partition(b"\n")
        pid, start = head.decode().split()
        words = argv.decode(errors="replace").replace("\0", " ").split()
        command = "".join(c if c.isprintable() else "?" for c in " ".join(words))
        with open(f"/proc/{int(pid)}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
    except (OSError, ValueError, IndexError):
        return "another process"
    if fields[19].decode() != start:
        return "another process"  # the recorded holder is gone: someone who did not record
    if len(command) > _SHOWN:
        command = command[: _SHOWN - 3] + "..."
    stopped = " (stopped)" if fields[0] in (b"T", b"t") else ""
    return f"pid {int(pid)}{stopped}: {command}"


def _open_existing(env: lmdb.Environment, txn: lmdb.Transaction, name: bytes) -> Any:
    try:
        return env.open_db(name, txn=txn, create=False)
    except lmdb.NotFoundError:
        return None


def _stale(view: Txn) -> bool:
    boot = view.meta_get("boot_id")
    return boot is not None and boot != current_boot_id()


def _migrate(txn: Txn, version: int) -> None:
    """Schema 1 to 2: ``attach_func`` moves into plugin data, links get indexes.

    2 to 3 changes no record: a link without ``anchor`` hangs on its pin alone.
    """
    log.info("state: migrating schema %d to %d", version, SCHEMA_VERSION)
    if version >= 2:
        return
    for _, raw in txn._scan(b"programs"):
        data = _unpack(raw)
        func = data.pop("attach_func", None)
        if func:
            data.setdefault("plugin_data", {})["attach_func"] = func
            data.setdefault("rows", [["Attach Function", func]])
        txn.put_program(ProgramRecord.from_dict(data))
    for _, raw in txn._scan(b"links"):
        txn.put_link(LinkRecord.from_dict(_unpack(raw)))
