"""``bpfman system save``: the managed programs and links as a declaration.

Entries are named by a rule (docs/declarations.md): ``bpfman.io/ProgramName``
when the program has that metadata (bpfman-operator's), else
``APPLICATION-FUNCTION``, else ``FUNCTION``; a name already taken gets
``-2``, ``-3``... in load order. Programs come in load order and links in
attach order, so applying the declaration on an empty host attaches links of
equal priority in the order they ran.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from bpfman.core.model import ProgramRecord
from bpfman.errors import BpfmanError, PluginError
from bpfman.logs import get_logger

from .host import Host, Manager, attach_func, link_metadata, recorded_options
from .schema import Declaration, FileSource, ImageSource, LinkEntry, OptionValue, ProgramEntry

log = get_logger(__name__)
OPERATOR_NAME_KEY = "bpfman.io/ProgramName"


def save(bm: Manager) -> Declaration:
    host = Host.read(bm)
    names = entry_names(host.programs)
    by_id = {r.id: r for r in host.programs}
    owners = _map_owners(host.programs)
    programs = []
    for record in host.programs:
        ptype = bm.plugins.program_type(record.type)
        owner = owners.get(record.id)
        programs.append(
            ProgramEntry(
                name=names[record.id],
                type=record.type,
                function=record.name,
                source=_source(record),
                attach_func=attach_func(record, ptype),
                globals=dict(record.globals),
                metadata=dict(record.metadata),
                map_owner=names[owner] if owner is not None else None,
            )
        )
    links = []
    every = sorted(
        (link for records in host.links.values() for link in records), key=lambda ln: ln.seq
    )
    for link in every:
        program = by_id[link.program_id]
        try:
            cls = bm.plugins.program_type(program.type).params
        except BpfmanError as exc:
            raise PluginError(f"cannot save link {link.id} of program {program.id}: {exc}") from exc
        options: dict[str, OptionValue] = {
            k: v  # type: ignore[misc]  # recorded values are what the options take
            for k, v in recorded_options(cls, link.params).items()
            if v is not None
        }
        links.append(
            LinkEntry(
                program=names[program.id],
                options=options,
                metadata=link_metadata(link, program),
                type=program.type,
            )
        )
    return Declaration(programs, links)


def entry_names(records: list[ProgramRecord]) -> dict[int, str]:
    """Each program's entry name, unique, by the documented rule (records in load order)."""
    taken: set[str] = set()
    names: dict[int, str] = {}
    for record in sorted(records, key=lambda r: r.id):
        base = record.metadata.get(OPERATOR_NAME_KEY) or (
            f"{record.application}-{record.name}" if record.application else record.name
        )
        name, n = base, 1
        while name in taken:
            n += 1
            name = f"{base}-{n}"
        taken.add(name)
        names[record.id] = name
    return names


def _map_owners(records: list[ProgramRecord]) -> dict[int, int]:
    """program id -> the id of the program whose maps it shares (absent: it owns its own).

    A map directory is named after the program that made it; when that one
    is gone, the oldest program still using the directory stands for it.
    """
    groups: dict[str, list[ProgramRecord]] = {}
    for record in sorted(records, key=lambda r: r.id):
        groups.setdefault(record.map_pin_path, []).append(record)
    owners: dict[int, int] = {}
    for path, members in groups.items():
        named = Path(path).name
        owner = next((r for r in members if str(r.id) == named), members[0])
        owners.update((r.id, owner.id) for r in members if r is not owner)
    return owners


def _source(record: ProgramRecord) -> FileSource | ImageSource:
    if "image_url" in record.source:
        return ImageSource(
            record.source["image_url"],
            record.source.get("digest") or None,
            record.source.get("pull_policy") or "IfNotPresent",
        )
    path = record.source.get("path", "")
    try:
        return FileSource(path, file_sha256(path))
    except OSError as exc:
        log.warning("program %d: %s: %s: saved without its sha256", record.id, path, exc.strerror)
        return FileSource(path)


def file_sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
