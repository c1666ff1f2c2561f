"""Records bpfman keeps about what it loaded and attached.

Records are plain classes serialised with msgpack through :meth:`to_dict`.
Fields that only one program type understands live in ``plugin_data`` /
``params`` dictionaries so the core never needs to know their meaning. They
are hand-written slotted classes rather than dataclasses: ``list`` runs in a
fresh process each time, and ``dataclasses`` costs more to import than the
records are worth.
"""

from __future__ import annotations

from typing import Any

APPLICATION_KEY = "bpfman_application"


class _Record:
    __slots__: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, _Record)
            and type(other) is type(self)
            and self.to_dict() == other.to_dict()
        )

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in self.to_dict().items())
        return f"{type(self).__name__}({fields})"


class ProgramRecord(_Record):
    """A program bpfman loaded; ``id`` is the kernel program id."""

    __slots__ = (
        "globals",
        "id",
        "kernel_type",
        "map_owner_id",
        "map_pin_path",
        "metadata",
        "name",
        "pin",
        "plugin_data",
        "rows",
        "source",
        "type",
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
        self.id = id
        self.name = name
        self.type = type
        self.kernel_type = kernel_type
        self.source = source
        self.pin = pin
        self.map_pin_path = map_pin_path
        self.map_owner_id = map_owner_id
        self.globals = globals or {}
        self.metadata = metadata or {}
        self.plugin_data = plugin_data or {}
        self.rows = rows or []

    @property
    def application(self) -> str:
        return self.metadata.get(APPLICATION_KEY, "")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProgramRecord:
        return cls(**data)

    @property
    def shown_rows(self) -> list[tuple[str, str]]:
        """What the type's plugin asked ``get program`` to show (e.g. Attach Function)."""
        return [(str(label), str(value)) for label, value in self.rows]


class LinkRecord(_Record):
    """An attachment of a program, identified by bpfman's own link id.

    ``hook`` names the shared attach point (interface, direction, netns...)
    for types where several links are ordered on one hook; links on the
    same hook are ordered by ``(priority, seq)``. ``attachment`` and ``rows``
    are the plugin's description, recorded at attach time so that listing
    links needs no plugin; the core adds the position on a shared hook.
    """

    __slots__ = (
        "attachment",
        "hook",
        "id",
        "metadata",
        "params",
        "pin",
        "priority",
        "program_id",
        "rows",
        "seq",
        "type",
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
    ) -> None:
        self.id = id
        self.program_id = program_id
        self.type = type
        self.params = params
        self.seq = seq
        self.pin = pin
        self.hook = hook
        self.priority = priority
        self.metadata = metadata or {}
        self.attachment = attachment
        self.rows = rows or []

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LinkRecord:
        return cls(**data)

    @property
    def order_key(self) -> tuple[int, int]:
        """Lower priority runs first; equal priorities keep attach order."""
        return (self.priority if self.priority is not None else 0, self.seq)
