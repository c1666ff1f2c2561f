"""Publishing and unpublishing volumes, each recorded in bpfman's store.

A volume is a bpffs of its own under ``<root>/csi-volumes/<key>`` (private
to root, like the rest of the root) holding pins of the maps the pod asked
for, bind-mounted at the pod's target path. Both calls run under bpfman's
writers' lock, so calls for one volume -- and any CLI or gRPC writer -- take
turns, and the program and its map pins cannot go while they are pinned.

The record of a volume (namespace ``csi`` of the store, keyed by a hash of
the root and the volume id) is committed after its mounts exist and dropped
after they are gone. A crash in between leaves mounts without a record, or a
record without mounts; :meth:`Volumes.reconcile` at start removes the
former and drops the latter, so a restart neither loses a published volume
nor keeps a half-made one, and kubelet's retry of the publish starts afresh.

Unloading a program does not reach into pods: the pins in a volume's bpffs
hold the maps, so a pod keeps working with its copy until its volume is
unpublished.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bpfman import kernel
from bpfman.core.bpffs import entries, is_pinned, private_dir
from bpfman.errors import BpfmanError, ConflictError, NotFoundError, UnsupportedError
from bpfman.logs import get_logger

from . import PROGRAM_NAME_KEY
from .mounts import bind, mount_bpffs, mountinfo, mounts_of, remove_target, umount, unmount_all

if TYPE_CHECKING:
    from bpfman.core.manager import Bpfman
    from bpfman.core.model import ProgramRecord
    from bpfman.core.state import Txn

    from .request import Publish

log = get_logger(__name__)
NAMESPACE = "csi"
MAP_MODE = 0o660
READONLY_MAP_MODE = 0o440


class Volumes:
    """The volumes published under one bpfman root."""

    def __init__(self, bpfman: Bpfman) -> None:
        self.bpfman = bpfman
        # mountinfo shows resolved paths: compare against the resolved root
        self.dir = bpfman.layout.resolved().csi_volumes

    def key(self, volume_id: str) -> str:
        """A volume's record key and directory name (any volume id fits)."""
        return hashlib.sha256(f"{self.dir}\0{volume_id}".encode()).hexdigest()[:32]

    def publish(self, request: Publish) -> None:
        key = self.key(request.volume_id)
        with self.bpfman.transaction("csi publish") as txn:
            record = txn.plugin_get(NAMESPACE, key)
            if record is not None:
                if self._mounted(key, record["target"]):
                    _check_same(request, record)
                    return
                log.warning("volume %s lost its mounts: publishing it again", request.volume_id)
                txn.plugin_delete(NAMESPACE, key)
            if mounts_of(key):
                self._teardown(key)  # what a failed attempt left
            for other_key, other in txn.plugin_items(NAMESPACE):
                if other["target"] == request.target and other_key != key:
                    raise ConflictError(
                        f"{request.target} already holds volume {other['volume_id']}"
                    )
            if any(m.point == request.target for m in mountinfo()):
                raise UnsupportedError(
                    f"{request.target} is already a mount point: refusing to mount over it"
                )
            program = _program(txn, request.program)
            sources = _map_pins(program, request)
            self._create(key, request, sources)
            txn.plugin_put(NAMESPACE, key, {**request.to_record(), "program_id": program.id})
        log.info(
            "published volume %s at %s: maps %s of program %s (id %d)%s",
            request.volume_id, request.target, ",".join(request.maps), request.program,
            program.id, " read-only" if request.readonly else "",
        )  # fmt: skip

    def unpublish(self, volume_id: str, target: str) -> None:
        key = self.key(volume_id)
        with self.bpfman.transaction("csi unpublish") as txn:
            record = txn.plugin_get(NAMESPACE, key)
            if record is None:
                if mounts_of(key):
                    self._teardown(key)  # what a failed publish left
                return  # unpublished already: CSI asks for idempotency
            if record["target"] != target:
                raise NotFoundError(
                    f"volume {volume_id} is published at {record['target']}, not at {target}"
                )
            self._teardown(key, target)
            txn.plugin_delete(NAMESPACE, key)
        log.info("unpublished volume %s from %s", volume_id, target)

    def reconcile(self) -> list[str]:
        """Make records and mounts agree (at start, after a restart or a crash)."""
        if not self.dir.exists():
            return []  # nothing was ever published under this root
        done: list[str] = []
        with self.bpfman.transaction("csi reconcile") as txn:
            recorded = dict(txn.plugin_items(NAMESPACE))
            for key, record in recorded.items():
                if self._mounted(key, record["target"]):
                    continue
                done.append(f"volume {record['volume_id']} lost its mounts: dropping its record")
                if self._torn_down(key, record["target"]):
                    txn.plugin_delete(NAMESPACE, key)
            for entry in entries(self.dir):
                if entry.name not in recorded:
                    done.append(f"removing volume directory {entry.name}, which nothing records")
                    self._torn_down(entry.name)
        return done

    # -- mounts -------------------------------------------------------------
    def _mounted(self, key: str, target: str) -> bool:
        """Whether the volume's bpffs and its bind at ``target`` are both there."""
        points = {m.point for m in mounts_of(key)}
        return str(self.dir / key) in points and target in points

    def _create(self, key: str, request: Publish, sources: list[tuple[str, str]]) -> None:
        private_dir(self.dir)
        fs = self.dir / key
        private_dir(fs)
        mount_bpffs(fs, key)
        try:
            group = -1 if request.group is None else request.group
            os.chown(fs, -1, group)
            mode = READONLY_MAP_MODE if request.readonly else MAP_MODE
            for name, source in sources:
                pin = str(fs / name)
                with kernel.obj_get(source) as fd:
                    kernel.obj_pin(fd.fd, pin)
                os.chmod(pin, mode)
                os.chown(pin, -1, group)
            bind(fs, request.target, request.readonly)
        except BaseException:
            self._teardown(key)
            raise

    def _teardown(self, key: str, target: str | None = None) -> None:
        """Unmount the volume's binds (wherever they are, ``target`` too) and its bpffs,
        then remove their directories."""
        fs = str(self.dir / key)
        targets = {m.point for m in mounts_of(key)} - {fs}
        for point in sorted(targets | ({target} if target else set())):
            if mounts_of(key, point):
                unmount_all(point, key)
            remove_target(point)
        while mounts_of(key, fs):  # under bpfman's private root: no symlink to fear
            umount(fs)
        with contextlib.suppress(FileNotFoundError):
            os.rmdir(fs)

    def _torn_down(self, key: str, target: str | None = None) -> bool:
        """:meth:`_teardown` for reconciliation: one volume's failure stops no other."""
        try:
            self._teardown(key, target)
        except (BpfmanError, OSError) as exc:
            log.warning("csi: cannot remove the mounts of volume directory %s: %s", key, exc)
            return False
        return True


def _check_same(request: Publish, record: dict[str, Any]) -> None:
    """A publish of a published volume: OK if it asks for the same, else refused."""
    if record["target"] != request.target:
        raise UnsupportedError(
            f"volume {request.volume_id} is already published at {record['target']}: "
            "it is published at one target at a time"
        )
    if not request.same_as(record):
        raise ConflictError(
            f"volume {request.volume_id} is already published at {request.target} with "
            f"program {record['program']}, maps {','.join(record['maps'])}, "
            f"readonly {record['readonly']}, group {record['group']}"
        )


def _program(txn: Txn, name: str) -> ProgramRecord:
    """The program the operator loaded under ``name`` (the lowest id if several)."""
    found = [p for p in txn.programs() if p.metadata.get(PROGRAM_NAME_KEY) == name]
    if not found:
        raise NotFoundError(f"no program with metadata {PROGRAM_NAME_KEY}={name} is loaded (yet)")
    return min(found, key=lambda p: p.id)


def _map_pins(program: ProgramRecord, request: Publish) -> list[tuple[str, str]]:
    """(name, pin) of each requested map; a map the program lacks is NOT_FOUND."""
    pins = {e.name: e.path for e in entries(Path(program.map_pin_path)) if is_pinned(e.path)}
    missing = [name for name in request.maps if name not in pins]
    if missing:
        raise NotFoundError(
            f"program {request.program} (id {program.id}) has no map "
            f"{', '.join(missing)} (its maps: {', '.join(sorted(pins)) or 'none'})"
        )
    return [(name, pins[name]) for name in request.maps]
