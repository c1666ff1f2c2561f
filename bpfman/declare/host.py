"""The host as a declaration sees it: bpfman's records, read through the public API.

Also what saving and planning share: a link's attach options as its type's
options class names them (its record holds more: what the plugin resolved),
and the attach function a program was loaded with.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from bpfman.core.contract import AttachParams, ProgramType
from bpfman.core.model import APPLICATION_KEYS, LinkRecord, ProgramRecord

if TYPE_CHECKING:
    from bpfman.core.plugins import Plugins
    from bpfman.images import ImageStore
    from bpfman.inputs import ProgramRequest


class Listed(Protocol):
    """A row of ``list_links``: the link's record is all a declaration reads."""

    @property
    def link(self) -> LinkRecord: ...


class Manager(Protocol):
    """The public operations declarations are built on.

    :class:`~bpfman.core.manager.Bpfman` has them; its ``save`` and ``apply``
    hand themselves to this package, which never imports the manager.
    """

    @property
    def plugins(self) -> Plugins: ...

    @property
    def images(self) -> ImageStore: ...

    def program_records(self) -> list[ProgramRecord]: ...

    def list_links(self) -> Sequence[Listed]: ...

    def load_file(
        self,
        path: str,
        programs: Sequence[ProgramRequest],
        *,
        globals: Mapping[str, bytes],
        metadata: Mapping[str, str],
        map_owner_id: int | None,
    ) -> list[ProgramRecord]: ...

    def load_image(
        self,
        url: str,
        programs: Sequence[ProgramRequest],
        *,
        pull_policy: str,
        globals: Mapping[str, bytes],
        metadata: Mapping[str, str],
        map_owner_id: int | None,
    ) -> list[ProgramRecord]: ...

    def attach(
        self, program_id: int, params: Mapping[str, object], *, metadata: Mapping[str, str]
    ) -> LinkRecord: ...

    def detach(self, link_id: int) -> None: ...

    def unload(self, program_id: int) -> None: ...


@dataclass(frozen=True)
class Host:
    """bpfman's programs (by id) and each one's links (in attach order)."""

    programs: list[ProgramRecord]
    links: dict[int, list[LinkRecord]]

    @classmethod
    def read(cls, bm: Manager) -> Host:
        programs = sorted(bm.program_records(), key=lambda r: r.id)
        links: dict[int, list[LinkRecord]] = {r.id: [] for r in programs}
        for details in sorted(bm.list_links(), key=lambda d: d.link.seq):
            links.setdefault(details.link.program_id, []).append(details.link)
        return cls(programs, links)


def option_fields(cls: type[AttachParams]) -> list[dataclasses.Field[Any]]:
    """The options a caller gives (not those the handler resolves)."""
    return [f for f in dataclasses.fields(cls) if f.init and not f.metadata.get("resolved")]


def declared_options(params: AttachParams) -> dict[str, object]:
    """Checked options, as plain values (lists, not tuples)."""
    return {f.name: _plain(getattr(params, f.name)) for f in option_fields(type(params))}


def recorded_options(cls: type[AttachParams], params: Mapping[str, Any]) -> dict[str, object]:
    """A link's options from its record: what ``cls`` names, defaults where not recorded."""
    options: dict[str, object] = {}
    for f in option_fields(cls):
        if f.name in params:
            options[f.name] = _plain(params[f.name])
        elif f.default is not dataclasses.MISSING:
            options[f.name] = _plain(f.default)
    return options


def same_options(
    cls: type[AttachParams], declared: dict[str, object], host: dict[str, object]
) -> bool:
    """The matching rule for options (docs/declarations.md).

    Every option compares equal, except that an empty list where the type's
    default is an empty list (proceed-on) means "the type's default", which
    the link records in full: it matches whatever the link has.
    """
    for f in option_fields(cls):
        mine = declared.get(f.name)
        if mine == [] and f.default == ():
            continue
        if mine != host.get(f.name):
            return False
    return True


def link_metadata(link: LinkRecord, program: ProgramRecord) -> dict[str, str]:
    """A link's own metadata: without the application it inherits from its program."""
    return {
        k: v
        for k, v in link.metadata.items()
        if not (k in APPLICATION_KEYS and v == program.application)
    }


def attach_func(record: ProgramRecord, ptype: ProgramType) -> str | None:
    """The attach function (or hook) a program was loaded with, for types that take one.

    Those types' plugins show it as their program's first row (``Attach
    Function``, ``LSM Hook``, ``Tracepoint``): the record keeps it nowhere else
    that every type shares.
    """
    takes = ptype.needs_attach_func or ptype.optional_attach_func
    return str(record.rows[0][1]) if takes and record.rows else None


def _plain(value: object) -> object:
    return list(value) if isinstance(value, tuple) else value
