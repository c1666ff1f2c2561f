"""What kubelet asks for, checked before anything is touched.

A bad request is refused with the CSI code the spec gives: a missing or
malformed field or attribute is INVALID_ARGUMENT (:class:`InvalidInputError`),
a capability this driver cannot serve (block volumes, other filesystems,
mount flags, several writers or nodes) FAILED_PRECONDITION
(:class:`UnsupportedError`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bpfman.errors import InvalidInputError, UnsupportedError
from bpfman.validate import text

from . import DRIVER_NAME, MAPS_ATTRIBUTE, PROGRAM_ATTRIBUTE
from . import csi_pb2 as pb

AccessMode = pb.VolumeCapability.AccessMode
# One pod on one node, as kubelet asks for an inline ephemeral volume.
WRITER_MODES = (AccessMode.SINGLE_NODE_WRITER, AccessMode.SINGLE_NODE_SINGLE_WRITER)
READER_MODES = (AccessMode.SINGLE_NODE_READER_ONLY,)
MAX_GID = 2**32 - 2  # (gid_t)-1 means "unchanged" to chown


@dataclass(frozen=True)
class Publish:
    """One NodePublishVolume: which program's maps go where, and how."""

    volume_id: str
    target: str
    program: str
    maps: tuple[str, ...]
    readonly: bool
    group: int | None

    def to_record(self) -> dict[str, Any]:
        return {
            "volume_id": self.volume_id,
            "target": self.target,
            "program": self.program,
            "maps": list(self.maps),
            "readonly": self.readonly,
            "group": self.group,
        }

    def same_as(self, record: dict[str, Any]) -> bool:
        """Whether a recorded publish asked for exactly this (CSI's idempotency)."""
        return (
            record.get("program") == self.program
            and sorted(record.get("maps", ())) == sorted(self.maps)
            and record.get("readonly") == self.readonly
            and record.get("group") == self.group
        )


def volume_id(value: str) -> str:
    if not value:
        raise InvalidInputError("volume_id is required")
    return text("volume_id", value)


def target_path(value: str) -> str:
    """An absolute, normalised path other than ``/`` (no ``.``, ``..`` or ``//``)."""
    if not value:
        raise InvalidInputError("target_path is required")
    text("target_path", value)
    if not value.startswith("/"):
        raise InvalidInputError(f"target_path {value!r} is not absolute")
    parts = value[1:].split("/")
    if value == "/" or any(part in ("", ".", "..") for part in parts):
        raise InvalidInputError(
            f"target_path {value!r} must name a directory below / without '.', '..' or '//'"
        )
    return value


def publish(request: pb.NodePublishVolumeRequest) -> Publish:
    """The checked publish request."""
    vid = volume_id(request.volume_id)
    target = target_path(request.target_path)
    if not request.HasField("volume_capability"):
        raise InvalidInputError("volume_capability is required")
    readonly, group = _capability(request.volume_capability)
    context = request.volume_context
    program = context.get(PROGRAM_ATTRIBUTE, "").strip()
    if not program:
        raise InvalidInputError(f"volume attribute {PROGRAM_ATTRIBUTE} is required")
    text(PROGRAM_ATTRIBUTE, program)
    maps = map_names(context.get(MAPS_ATTRIBUTE, ""))
    return Publish(vid, target, program, maps, request.readonly or readonly, group)


def map_names(value: str) -> tuple[str, ...]:
    """The comma-separated map names of the maps attribute, blanks and repeats dropped."""
    names: list[str] = []
    for raw in value.split(","):
        name = raw.strip()
        if name and name not in names:
            text(MAPS_ATTRIBUTE, name)
            if "/" in name or name in (".", ".."):
                raise InvalidInputError(f"volume attribute {MAPS_ATTRIBUTE}: bad map name {name!r}")
            names.append(name)
    if not names:
        raise InvalidInputError(f"volume attribute {MAPS_ATTRIBUTE} names no map")
    return tuple(names)


def _capability(cap: pb.VolumeCapability) -> tuple[bool, int | None]:
    """(read-only access mode, mount group) of a capability this driver can serve."""
    kind = cap.WhichOneof("access_type")
    if kind is None:
        raise InvalidInputError("volume_capability names no access type (mount or block)")
    if kind == "block":
        raise UnsupportedError(f"{DRIVER_NAME} serves mount volumes only, not block volumes")
    mount = cap.mount
    if mount.fs_type not in ("", "bpf"):
        raise UnsupportedError(f"{DRIVER_NAME} mounts bpffs only, not {mount.fs_type!r}")
    if mount.mount_flags:
        raise UnsupportedError(
            f"{DRIVER_NAME} takes no mount flags (given: {len(mount.mount_flags)})"
        )
    mode = cap.access_mode.mode
    if mode == AccessMode.UNKNOWN:
        raise InvalidInputError("volume_capability.access_mode is required")
    if mode not in WRITER_MODES + READER_MODES:
        name = AccessMode.Mode.Name(mode)
        raise UnsupportedError(f"{DRIVER_NAME} serves one pod on one node, not access mode {name}")
    return mode in READER_MODES, _group(mount.volume_mount_group)


def _group(value: str) -> int | None:
    if not value:
        return None
    if not value.isascii() or not value.isdigit() or int(value) > MAX_GID:
        raise InvalidInputError(f"volume_mount_group {value!r} is not a numeric group id")
    return int(value)
