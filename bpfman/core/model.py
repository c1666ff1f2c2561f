"""Records bpfman keeps about what it loaded and attached.

Records are slotted dataclasses serialised with msgpack through ``to_dict``.
Fields that only one program type understands live in ``plugin_data`` /
``params`` dictionaries so the core never needs to know their meaning.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# ``--application`` is stored under the reference's current key; records and
# selectors written with its older key are read as the same thing.
APPLICATION_KEY = "bpfman.io/application"
LEGACY_APPLICATION_KEY = "bpfman_application"
APPLICATION_KEYS = (APPLICATION_KEY, LEGACY_APPLICATION_KEY)


def application_of(metadata: dict[str, str]) -> str:
    """The application ``metadata`` names, under either key ("" for none)."""
    return metadata.get(APPLICATION_KEY) or metadata.get(LEGACY_APPLICATION_KEY, "")


@dataclass(slots=True)
class ProgramRecord:
    """A program bpfman loaded; ``id`` is the kernel program id."""

    id: int
    name: str
    type: str
    kernel_type: int
    source: dict[str, str]
    pin: str
    map_pin_path: str
    map_owner_id: int | None = None
    globals: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)
    plugin_data: dict[str, Any] = field(default_factory=dict)
    rows: list[list[str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return _fields(self)

    @property
    def application(self) -> str:
        return application_of(self.metadata)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProgramRecord:
        return cls(**data)

    @property
    def shown_rows(self) -> list[tuple[str, str]]:
        """What the type's plugin asked ``get program`` to show (e.g. Attach Function)."""
        return [(str(label), str(value)) for label, value in self.rows]


@dataclass(slots=True)
class LinkRecord:
    """An attachment of a program, identified by bpfman's own link id.

    ``hook`` names the shared attach point (interface, direction, netns...)
    for types where several links are ordered on one hook; links on the
    same hook are ordered by ``(priority, seq)``. ``attachment`` and ``rows``
    are the plugin's description, recorded at attach time so that listing
    links needs no plugin; the core adds the position on a shared hook.
    ``anchor`` is what else the link hangs on, for readers to find it
    detached when that goes (:mod:`.liveness`).
    """

    id: int
    program_id: int
    type: str
    params: dict[str, Any]
    seq: int
    pin: str | None = None
    hook: str | None = None
    priority: int | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    attachment: str = ""
    rows: list[list[str]] = field(default_factory=list)
    anchor: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return _fields(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LinkRecord:
        return cls(**data)

    @property
    def order_key(self) -> tuple[int, int]:
        """Lower priority runs first; equal priorities keep attach order."""
        return (self.priority if self.priority is not None else 0, self.seq)


def _fields(record: ProgramRecord | LinkRecord) -> dict[str, Any]:
    """The record as a plain mapping (shallow: ``asdict`` would copy every value)."""
    return {name: getattr(record, name) for name in record.__slots__}
