"""Persistent state: LMDB with msgpack values.

Every CLI call is its own process and several may run at once. A mutating
command does all its work -- kernel calls included -- inside one LMDB write
transaction, whose lock serialises writers across processes, so two
concurrent ``attach`` calls can never compute positions from the same
snapshot. Readers never block.

State describes kernel objects that vanish at reboot, so the store remembers
the boot id it was written under and forgets everything from another boot.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import lmdb
import msgpack

from .errors import StateError
from .logs import get_logger
from .model import LinkRecord, ProgramRecord

SCHEMA_VERSION = 1
log = get_logger(__name__)
_MAP_SIZE = 256 << 20
_DBS = (b"meta", b"programs", b"links", b"plugins")
_BOOT_ID = Path("/proc/sys/kernel/random/boot_id")


def _key(n: int) -> bytes:
    return struct.pack(">I", n)


def _pack(value: Any) -> bytes:
    data: bytes = msgpack.packb(value, use_bin_type=True)
    return data


def _unpack(data: bytes | memoryview) -> Any:
    return msgpack.unpackb(bytes(data), raw=False, strict_map_key=False)


def current_boot_id() -> str:
    try:
        return _BOOT_ID.read_text().strip()
    except OSError:
        return ""


class Txn:
    """Typed access to the records inside one LMDB transaction."""

    def __init__(self, txn: lmdb.Transaction, dbs: dict[bytes, Any], write: bool) -> None:
        self._txn = txn
        self._dbs = dbs
        self.write = write
        self.after_commit: list[Callable[[], None]] = []

    # -- programs -----------------------------------------------------------
    def get_program(self, program_id: int) -> ProgramRecord | None:
        raw = self._txn.get(_key(program_id), db=self._dbs[b"programs"])
        return None if raw is None else ProgramRecord.from_dict(_unpack(raw))

    def programs(self) -> list[ProgramRecord]:
        cur = self._txn.cursor(db=self._dbs[b"programs"])
        return [ProgramRecord.from_dict(_unpack(v)) for _, v in cur]

    def put_program(self, record: ProgramRecord) -> None:
        self._txn.put(_key(record.id), _pack(record.to_dict()), db=self._dbs[b"programs"])

    def delete_program(self, program_id: int) -> None:
        self._txn.delete(_key(program_id), db=self._dbs[b"programs"])

    # -- links --------------------------------------------------------------
    def get_link(self, link_id: int) -> LinkRecord | None:
        raw = self._txn.get(_key(link_id), db=self._dbs[b"links"])
        return None if raw is None else LinkRecord.from_dict(_unpack(raw))

    def links(self) -> list[LinkRecord]:
        cur = self._txn.cursor(db=self._dbs[b"links"])
        return [LinkRecord.from_dict(_unpack(v)) for _, v in cur]

    def links_of(self, program_id: int) -> list[LinkRecord]:
        return sorted(
            (link for link in self.links() if link.program_id == program_id),
            key=lambda link: link.seq,
        )

    def links_on_hook(self, hook: str) -> list[LinkRecord]:
        """The links sharing ``hook``, in run order."""
        return sorted(
            (link for link in self.links() if link.hook == hook),
            key=lambda link: link.order_key,
        )

    def put_link(self, record: LinkRecord) -> None:
        self._txn.put(_key(record.id), _pack(record.to_dict()), db=self._dbs[b"links"])

    def delete_link(self, link_id: int) -> None:
        self._txn.delete(_key(link_id), db=self._dbs[b"links"])

    def link_exists(self, link_id: int) -> bool:
        return self._txn.get(_key(link_id), db=self._dbs[b"links"]) is not None

    def next_seq(self) -> int:
        """A counter that only grows; orders links attached at equal priority."""
        raw = self._txn.get(b"seq", db=self._dbs[b"meta"])
        seq = 0 if raw is None else int(_unpack(raw))
        self._txn.put(b"seq", _pack(seq + 1), db=self._dbs[b"meta"])
        return seq

    # -- plugin-owned records -----------------------------------------------
    def plugin_get(self, namespace: str, key: str) -> Any:
        raw = self._txn.get(f"{namespace}\0{key}".encode(), db=self._dbs[b"plugins"])
        return None if raw is None else _unpack(raw)

    def plugin_put(self, namespace: str, key: str, value: Any) -> None:
        self._txn.put(f"{namespace}\0{key}".encode(), _pack(value), db=self._dbs[b"plugins"])

    def plugin_delete(self, namespace: str, key: str) -> None:
        self._txn.delete(f"{namespace}\0{key}".encode(), db=self._dbs[b"plugins"])

    def plugin_items(self, namespace: str) -> Iterator[tuple[str, Any]]:
        prefix = f"{namespace}\0".encode()
        cur = self._txn.cursor(db=self._dbs[b"plugins"])
        if cur.set_range(prefix):
            for raw_key, value in cur:
                key = bytes(raw_key)
                if not key.startswith(prefix):
                    break
                yield key[len(prefix) :].decode(), _unpack(value)

    def clear(self) -> None:
        for name in _DBS:
            self._txn.drop(self._dbs[name], delete=False)


class Store:
    """The LMDB environment under ``<root>/db``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._env: lmdb.Environment | None = None
        self._dbs: dict[bytes, Any] = {}

    def exists(self) -> bool:
        return (self.path / "data.mdb").exists()

    def _open(self) -> lmdb.Environment:
        if self._env is None:
            try:
                self.path.mkdir(parents=True, exist_ok=True)
                env = lmdb.open(str(self.path), max_dbs=len(_DBS), map_size=_MAP_SIZE)
            except (OSError, lmdb.Error) as exc:
                raise StateError(f"cannot open state store {self.path}: {exc}") from exc
            self._dbs = {name: env.open_db(name) for name in _DBS}
            self._env = env
            self._check_version_and_boot()
        return self._env

    def _check_version_and_boot(self) -> None:
        assert self._env is not None
        boot = current_boot_id()
        meta = self._dbs[b"meta"]
        with self._env.begin(write=False) as txn:
            raw_version = txn.get(b"schema", db=meta)
            raw_boot = txn.get(b"boot_id", db=meta)
        if raw_version is not None and _unpack(raw_version) != SCHEMA_VERSION:
            raise StateError(
                f"state store {self.path} has schema {_unpack(raw_version)}, "
                f"this bpfman expects {SCHEMA_VERSION}"
            )
        if raw_boot is not None and _unpack(raw_boot) == boot:
            return
        with self._env.begin(write=True) as txn:
            stored = txn.get(b"boot_id", db=meta)
            if stored is not None and _unpack(stored) == boot:
                return  # another process initialised it meanwhile
            if stored is not None:
                # Kernel objects of another boot are gone; so are their records.
                Txn(txn, self._dbs, True).clear()
            txn.put(b"schema", _pack(SCHEMA_VERSION), db=meta)
            txn.put(b"boot_id", _pack(boot), db=meta)

    @contextmanager
    def read(self) -> Iterator[Txn]:
        env = self._open()
        with env.begin(write=False) as txn:
            yield Txn(txn, self._dbs, False)

    @contextmanager
    def write(self) -> Iterator[Txn]:
        """A write transaction: committed on success, aborted on any exception.

        Callbacks in ``Txn.after_commit`` run once the commit succeeded: for
        kernel clean-up that must not happen if the new state is not recorded.
        """
        env = self._open()
        with env.begin(write=True) as txn:
            wrapped = Txn(txn, self._dbs, True)
            yield wrapped
        for callback in wrapped.after_commit:
            try:
                callback()
            except Exception as exc:  # the state is committed; leftovers are reconciled later
                log.warning("clean-up after commit failed: %s", exc)

    def close(self) -> None:
        if self._env is not None:
            self._env.close()
            self._env = None
