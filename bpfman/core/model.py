"""What the core records: programs, links with their views, journal resources.

Records are slotted classes serialised with msgpack through ``to_dict``.
Fields that only one program type understands live in ``plugin_data`` /
``params`` dictionaries so the core never needs to know their meaning.

Every command reads these, ``list`` in a fresh process each time, so they are
plain classes: importing ``dataclasses`` (which imports ``inspect``) and
building the classes cost ``list`` about as much as decoding 1,000 programs
and their links. The plugin contract (:mod:`.contract`), which needs
dataclasses, re-exports the ones plugins use.
"""

from __future__ import annotations

TYPE_CHECKING = False  # every command reads records: not even typing at import
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

    from bpfman.kernel.info import ProgInfo

# ``--application`` is stored under the reference's current key; records and
# selectors written with its older key are read as the same thing.
APPLICATION_KEY = "bpfman.io/application"
LEGACY_APPLICATION_KEY = "bpfman_application"
APPLICATION_KEYS = (APPLICATION_KEY, LEGACY_APPLICATION_KEY)


def application_of(metadata: dict[str, str]) -> str:
    """The application ``metadata`` names, under either key ("" for none)."""
    return metadata.get(APPLICATION_KEY) or metadata.get(LEGACY_APPLICATION_KEY, "")


class SlottedValue:
    """Equality, ``repr`` and the msgpack form, from the ``__slots__`` in field order."""

    __slots__: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """The record as a plain mapping (shallow: values are not copied)."""
        return {name: getattr(self, name) for name in self.__slots__}

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SlottedValue) or type(other) is not type(self):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in self.to_dict().items())
        return f"{type(self).__name__}({fields})"


class ProgramRecord(SlottedValue):
    """A program bpfman loaded; ``id`` is the kernel program id."""

    __slots__ = (  # noqa: RUF023 -- field order: the constructor's, repr's, the stored map's
        "id",
        "name",
        "type",
        "kernel_type",
        "source",
        "pin",
        "map_pin_path",
        "map_owner_id",
        "globals",
        "metadata",
        "plugin_data",
        "rows",
    )

    def __init__(
        self,
        id: int,
        name: str,
        type: str,
        kernel_type: int,
        source: dict[str, str],
        pin: str,
        map_pin_path: str,
        map_owner_id: int | None = None,
        globals: dict[str, str] | None = None,
        metadata: dict[str, str] | None = None,
        plugin_data: dict[str, Any] | None = None,
        rows: list[list[str]] | None = None,
    ) -> None:
        self.id, self.name, self.type, self.kernel_type = id, name, type, kernel_type
        self.source, self.pin, self.map_pin_path = source, pin, map_pin_path
        self.map_owner_id = map_owner_id
        self.globals: dict[str, str] = {} if globals is None else globals
        self.metadata: dict[str, str] = {} if metadata is None else metadata
        self.plugin_data: dict[str, Any] = {} if plugin_data is None else plugin_data
        self.rows: list[list[str]] = [] if rows is None else rows

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


class LinkRecord(SlottedValue):
    """An attachment of a program, identified by bpfman's own link id.

    ``hook`` names the shared attach point (interface, direction, netns...)
    for types where several links are ordered on one hook; links on the
    same hook are ordered by ``(priority, seq)``. ``attachment`` and ``rows``
    are the plugin's description, recorded at attach time so that listing
    links needs no plugin; the core adds the position on a shared hook.
    ``anchor`` is what else the link hangs on, for readers to find it
    detached when that goes (:mod:`.liveness`).
    """

    __slots__ = (  # noqa: RUF023 -- field order, as above
        "id",
        "program_id",
        "type",
        "params",
        "seq",
        "pin",
        "hook",
        "priority",
        "metadata",
        "attachment",
        "rows",
        "anchor",
    )

    def __init__(
        self,
        id: int,
        program_id: int,
        type: str,
        params: dict[str, Any],
        seq: int,
        pin: str | None = None,
        hook: str | None = None,
        priority: int | None = None,
        metadata: dict[str, str] | None = None,
        attachment: str = "",
        rows: list[list[str]] | None = None,
        anchor: dict[str, Any] | None = None,
    ) -> None:
        self.id, self.program_id, self.type, self.params = id, program_id, type, params
        self.seq, self.pin, self.hook, self.priority = seq, pin, hook, priority
        self.metadata: dict[str, str] = {} if metadata is None else metadata
        self.attachment = attachment
        self.rows: list[list[str]] = [] if rows is None else rows
        self.anchor: dict[str, Any] = {} if anchor is None else anchor

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LinkRecord:
        return cls(**data)

    @property
    def order_key(self) -> tuple[int, int]:
        """Lower priority runs first; equal priorities keep attach order."""
        return (self.priority if self.priority is not None else 0, self.seq)


class LinkView(SlottedValue):
    """How a link reads in ``list links`` (attachment) and ``get link`` (rows).

    On a shared hook the core appends `` pos-N`` to the attachment and a
    ``Position`` row after ``Priority``.
    """

    __slots__ = ("attachment", "rows")

    def __init__(self, attachment: str, rows: list[tuple[str, str]]) -> None:
        self.attachment = attachment
        self.rows = rows


class ProgramSummary(SlottedValue):
    """One row of ``list programs``: ``managed`` is False for a program only the kernel has."""

    __slots__ = ("id", "application", "type", "name", "link_ids", "managed")  # noqa: RUF023
    id: int
    application: str
    type: str
    name: str
    link_ids: list[int]
    managed: bool

    def __init__(
        self, id: int, application: str, type: str, name: str, link_ids: list[int], managed: bool
    ) -> None:
        self.id, self.application, self.type, self.name = id, application, type, name
        self.link_ids, self.managed = link_ids, managed

    @classmethod
    def of(cls, record: ProgramRecord, link_ids: dict[int, list[int]]) -> ProgramSummary:
        """The row of a program bpfman loaded; ``link_ids``: :meth:`~.state.Txn.link_ids`."""
        return cls(record.id, record.application, record.type, record.name,
                   link_ids.get(record.id, []), True)  # fmt: skip


class LinkDetails(SlottedValue):
    """A link with the program it belongs to and its plugin's description.

    ``detached`` says why the kernel no longer runs it (its interface,
    namespace, cgroup or process is gone, its pin was removed...): such a
    link holds no position until ``detach``, ``unload`` or ``system
    recover`` removes it.
    """

    __slots__ = ("link", "program", "view", "position", "detached")  # noqa: RUF023
    link: LinkRecord
    program: ProgramRecord
    view: LinkView
    position: int | None
    detached: str | None

    def __init__(
        self,
        link: LinkRecord,
        program: ProgramRecord,
        view: LinkView,
        position: int | None,
        detached: str | None = None,
    ) -> None:
        self.link, self.program, self.view = link, program, view
        self.position, self.detached = position, detached


class ProgramDetails(SlottedValue):
    """What ``get program`` shows: bpfman's record (if any) and the kernel's."""

    __slots__ = ("id", "record", "links", "maps_used_by", "kernel")  # noqa: RUF023
    id: int
    record: ProgramRecord | None
    links: list[LinkDetails]
    maps_used_by: list[int]
    kernel: ProgInfo | None

    def __init__(
        self,
        id: int,
        record: ProgramRecord | None,
        links: list[LinkDetails],
        maps_used_by: list[int],
        kernel: ProgInfo | None,
    ) -> None:
        self.id, self.record, self.links = id, record, links
        self.maps_used_by, self.kernel = maps_used_by, kernel


def shown(value: object) -> str:
    """A value as ``get`` shows it: ``None`` when unset or empty."""
    if value is None or value == "" or value == {} or value == []:
        return "None"
    return str(value)


def plain_view(recorded: Mapping[str, Any]) -> LinkView:
    """Recorded values joined, a row per option: the default, and for a link whose plugin is gone."""
    rows = [(k.replace("_", " ").title(), shown(v)) for k, v in recorded.items()]
    return LinkView(" ".join(str(v) for v in recorded.values()), rows)


class Resource(SlottedValue):
    """A kernel object an operation creates or removes, described for the journal.

    ``owner`` is empty for the core's own kinds (``pin``: one pinned object,
    ``link``: a pinned bpf_link, ``tree``: a directory of pins) and otherwise the program type whose
    handler knows how to release the kind. ``data`` must survive msgpack. Frozen:
    what an operation journaled is what it releases. Its values under ``path``,
    ``pin`` and keys ending in ``_pin`` are paths on bpfman's bpffs: the core
    releases nothing whose path lies outside it.
    """

    __slots__ = ("data", "kind", "owner")
    kind: str
    data: Mapping[str, Any]
    owner: str

    def __init__(self, kind: str, data: Mapping[str, Any], owner: str = "") -> None:
        for name, value in (("kind", kind), ("data", data), ("owner", owner)):
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"cannot assign to field {name!r}: a Resource is frozen")

    @classmethod
    def pin(cls, path: object) -> Resource:
        return cls("pin", {"path": str(path)})

    @classmethod
    def tree(cls, path: object) -> Resource:
        return cls("tree", {"path": str(path)})

    @classmethod
    def link(cls, path: object) -> Resource:
        """A pinned bpf_link: released when the kernel has really let it go."""
        return cls("link", {"path": str(path)})

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "data": dict(self.data), "owner": self.owner}

    def with_paths(self, fix: Callable[[Any], str]) -> Resource:
        """A copy with every path it names (see above) passed through ``fix``."""
        data = {
            key: fix(value) if key in ("path", "pin") or key.endswith("_pin") else value
            for key, value in self.data.items()
        }
        return Resource(self.kind, data, self.owner)

    @classmethod
    def from_dict(cls, value: Mapping[str, Any]) -> Resource:
        return cls(str(value["kind"]), dict(value["data"]), str(value.get("owner", "")))
