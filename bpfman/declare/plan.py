"""What applying a declaration would change: the matching rule, and the plan.

A declaration is checked first against the installed types alone (names,
references, options), then matched against the host's records: each entry
either matches a managed program (and each of its links a link) or is to be
loaded (attached). The rule is documented in docs/declarations.md; in short,
a program matches when everything the entry says about it is what its
record says, and a link when its options and metadata are.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from bpfman.core.contract import AttachParams, ProgramType
from bpfman.core.model import LinkRecord, ProgramRecord
from bpfman.errors import BpfmanError, InvalidInputError
from bpfman.inputs import checked_metadata

from .host import (
    Host,
    attach_func,
    declared_options,
    link_metadata,
    recorded_options,
    same_options,
)
from .schema import Declaration, FileSource, ProgramEntry

if TYPE_CHECKING:
    from bpfman.core.plugins import Plugins

Verb = Literal["load", "attach", "detach", "unload", "keep"]
#: The verbs that change the host ("keep" only reports).
CHANGES: tuple[Verb, ...] = ("load", "attach", "detach", "unload")
_DONE = {"load": "loaded", "attach": "attached", "detach": "detached", "unload": "unloaded"}


@dataclass(frozen=True)
class Action:
    """One line of a plan (``done`` False) or of what an apply did (``done`` True).

    :param entry: the declared program it concerns, if any.
    :param program_id: the kernel program id (a new one once loaded).
    :param link_id: the link detached, or the new link once attached.
    """

    verb: Verb
    text: str
    entry: str | None = None
    program_id: int | None = None
    link_id: int | None = None
    done: bool = False

    def __str__(self) -> str:
        return f"{_DONE.get(self.verb, self.verb) if self.done else self.verb} {self.text}"


@dataclass(frozen=True)
class Plan:
    """Every action apply takes, in order, and the programs it leaves alone (``keep``)."""

    actions: tuple[Action, ...]

    @property
    def changes(self) -> tuple[Action, ...]:
        return tuple(a for a in self.actions if a.verb in CHANGES)

    @property
    def matches(self) -> bool:
        """The host already runs what the declaration says: applying changes nothing."""
        return not self.changes


@dataclass(frozen=True)
class Checked:
    """A declaration checked against the installed types, before looking at the host.

    :param params: each link's options, checked by its type (in declaration order).
    :param order: the programs in load order: every map owner before its users.
    """

    declaration: Declaration
    types: dict[str, ProgramType]
    params: list[AttachParams]
    order: list[ProgramEntry]
    names: dict[str, ProgramEntry]

    def root(self, entry: ProgramEntry) -> str | None:
        """The entry whose maps ``entry`` ends up sharing (None: it owns its maps)."""
        owner = entry.map_owner
        while owner is not None and self.names[owner].map_owner is not None:
            owner = self.names[owner].map_owner
        return owner


@dataclass
class Steps:
    """The plan with what executing it needs."""

    matched: dict[str, ProgramRecord] = field(default_factory=dict)
    loads: list[ProgramEntry] = field(default_factory=list)
    detaches: list[tuple[LinkRecord, ProgramRecord, str]] = field(default_factory=list)
    attaches: list[int] = field(default_factory=list)
    unloads: list[ProgramRecord] = field(default_factory=list)
    keeps: list[ProgramRecord] = field(default_factory=list)


def stub_record(entry: ProgramEntry, ptype: ProgramType) -> ProgramRecord:
    """The record ``entry`` would have, for what a type asks of one before it is loaded."""
    return ProgramRecord(0, entry.function, entry.type, ptype.kernel_type, {}, "", "")


def check(declaration: Declaration, plugins: Plugins) -> Checked:
    """Refuse what no host could run: unknown types and names, bad options, loops."""
    names = {p.name: p for p in declaration.programs}
    types: dict[str, ProgramType] = {}
    for entry in declaration.programs:
        with naming(entry.where()):
            ptype = plugins.program_type(entry.type)
        takes = ptype.needs_attach_func or ptype.optional_attach_func
        if ptype.needs_attach_func and not entry.attach_func:
            raise InvalidInputError(f"{entry.where()}: {entry.type} programs need attach_func")
        if entry.attach_func and not takes:
            raise InvalidInputError(f"{entry.where()}: {entry.type} programs take no attach_func")
        if entry.map_owner is not None and entry.map_owner not in names:
            raise InvalidInputError(
                f"{entry.where()}: map_owner {entry.map_owner!r} names no declared program"
            )
        types[entry.name] = ptype
    params = []
    for link in declaration.links:
        program = names.get(link.program)
        if program is None:
            raise InvalidInputError(f"{link.where()}: no program is declared with that name")
        if link.type is not None and link.type != program.type:
            raise InvalidInputError(
                f"{link.where()}: type {link.type!r}, but the program is a {program.type} program"
            )
        ptype = types[program.name]
        cls = ptype.params
        with naming(link.where()):
            params.append(cls.from_mapping(link.options))
            checked_metadata(link.metadata)
    return Checked(declaration, types, params, _load_order(declaration, names), names)


def _load_order(declaration: Declaration, names: Mapping[str, ProgramEntry]) -> list[ProgramEntry]:
    order: list[ProgramEntry] = []
    placed: set[str] = set()
    for entry in declaration.programs:
        chain: list[ProgramEntry] = []
        current: ProgramEntry | None = entry
        while current is not None and current.name not in placed:
            if current in chain:
                raise InvalidInputError(f"{entry.where()}: map_owner goes round in a loop")
            chain.append(current)
            current = names[current.map_owner] if current.map_owner else None
        for member in reversed(chain):
            placed.add(member.name)
            order.append(member)
    return order


def make_plan(checked: Checked, host: Host, prune: bool) -> tuple[Plan, Steps]:
    """Match the declaration against the host; the plan and its steps."""
    steps = Steps()
    declared = checked.declaration
    links_of: dict[str, list[int]] = {}
    for i, link in enumerate(declared.links):
        links_of.setdefault(link.program, []).append(i)
    taken: set[int] = set()
    root_dirs: set[str] = set()

    def pairs(entry: ProgramEntry, record: ProgramRecord) -> dict[int, LinkRecord]:
        return _pair_links(checked, links_of.get(entry.name, []), record, host.links[record.id])

    for entry in checked.order:
        ptype = checked.types[entry.name]
        root = checked.root(entry)
        candidates = [
            r
            for r in host.programs
            if r.id not in taken and _same_program(entry, ptype, r)
            and (
                r.map_pin_path not in root_dirs
                if root is None
                else root in steps.matched and r.map_pin_path == steps.matched[root].map_pin_path
            )
        ]  # fmt: skip
        if not candidates:
            steps.loads.append(entry)
            continue

        def score(r: ProgramRecord, e: ProgramEntry = entry) -> tuple[int, int]:
            paired = len(pairs(e, r))
            return (2 * paired - len(host.links[r.id]), -r.id)

        best = max(candidates, key=score)
        steps.matched[entry.name] = best
        taken.add(best.id)
        if root is None:
            root_dirs.add(best.map_pin_path)

    paired: dict[int, LinkRecord] = {}
    for name, record in steps.matched.items():
        found = pairs(checked.names[name], record)
        paired.update(found)
        kept = {link.id for link in found.values()}
        steps.detaches += [
            (link, record, "not declared") for link in host.links[record.id] if link.id not in kept
        ]
    for i in _out_of_order(checked, paired):
        steps.detaches.append(
            (
                paired.pop(i),
                steps.matched[declared.links[i].program],
                "to attach it again in the declared order",
            )
        )
    steps.attaches = [i for i in range(len(declared.links)) if i not in paired]
    for record in host.programs:
        if record.id not in taken:
            (steps.unloads if prune else steps.keeps).append(record)
    return Plan(tuple(_actions(checked, steps))), steps


def _pair_links(
    checked: Checked, indices: list[int], record: ProgramRecord, links: list[LinkRecord]
) -> dict[int, LinkRecord]:
    """Declared link index -> the host link it matches, first come first served."""
    found: dict[int, LinkRecord] = {}
    used: set[int] = set()
    for i in indices:
        params = checked.params[i]
        cls = type(params)
        mine = declared_options(params)
        metadata = checked.declaration.links[i].metadata
        for link in links:
            # Compared without the application it inherits, under either key.
            if link.id in used or link_metadata(link, record) != metadata:
                continue
            if same_options(cls, mine, recorded_options(cls, link.params)):
                found[i] = link
                used.add(link.id)
                break
    return found


def _out_of_order(checked: Checked, paired: dict[int, LinkRecord]) -> list[int]:
    """Matched links to attach again so that equal priorities run in declaration order.

    Links of one type whose options differ only in priority and lists share a
    hook; on a hook, links of equal priority run in attach order. From the
    first declared link of such a group that must be attached (or runs after
    one declared later), every later one of the group is attached again.
    """
    state: dict[tuple[object, ...], tuple[bool, int]] = {}
    again: list[int] = []
    for i, params in enumerate(checked.params):
        options = declared_options(params)
        if "priority" not in options:
            continue
        hook = tuple(
            sorted(
                (k, repr(v))
                for k, v in options.items()
                if k != "priority" and not isinstance(v, list)
            )
        )
        key = (params.type_name, hook, options["priority"])
        broken, last = state.get(key, (False, -1))
        link = paired.get(i)
        if link is None:
            broken = True
        elif broken or link.seq < last:
            again.append(i)
            broken = True
        else:
            last = link.seq
        state[key] = (broken, last)
    return again


def _same_program(entry: ProgramEntry, ptype: ProgramType, record: ProgramRecord) -> bool:
    source = entry.source
    if isinstance(source, FileSource):
        same_source = record.source.get("path") == os.path.abspath(source.path)
    else:
        same_source = record.source.get("image_url") == source.url and (
            source.digest is None or record.source.get("digest") == source.digest
        )
    return (
        same_source
        and record.type == entry.type
        and record.name == entry.function
        and _hex(record.globals) == _hex(entry.globals)
        and record.metadata == dict(entry.metadata)
        and (entry.attach_func is None or attach_func(record, ptype) == entry.attach_func)
    )


def _hex(values: Mapping[str, str]) -> dict[str, bytes]:
    return {k: bytes.fromhex(v) for k, v in values.items()}


def _actions(checked: Checked, steps: Steps) -> list[Action]:
    links = checked.declaration.links
    actions = [
        Action("load", f'"{e.name}": {e.type} {e.function} from {source_text(e)}', e.name)
        for e in steps.loads
    ]
    names = {r.id: n for n, r in steps.matched.items()}
    actions += [
        Action(
            "detach",
            f'"{names[record.id]}": link {link.id} ({link.attachment}): {why}',
            names[record.id],
            record.id,
            link.id,
        )
        for link, record, why in steps.detaches
    ]
    actions += [
        Action("attach", f'"{links[i].program}": {link_text(checked, i)}', links[i].program)
        for i in steps.attaches
    ]
    actions += [
        Action("unload", f"program {r.id} ({program_text(r)}): not declared", None, r.id)
        for r in steps.unloads
    ]
    actions += [
        Action(
            "keep",
            f"program {r.id} ({program_text(r)}): not declared (--prune unloads it)",
            None,
            r.id,
        )
        for r in steps.keeps
    ]
    return actions


def source_text(entry: ProgramEntry) -> str:
    source = entry.source
    return source.path if isinstance(source, FileSource) else source.url


def link_text(checked: Checked, index: int) -> str:
    """``TYPE key=value...`` for a declared link (lists comma-joined)."""
    params = checked.params[index]
    words = [params.type_name or checked.declaration.links[index].type or ""]
    for key, value in checked.declaration.links[index].options.items():
        shown = ",".join(value) if isinstance(value, list) else str(value)
        words.append(f"{key}={shown}")
    words += [f"metadata {k}={v}" for k, v in checked.declaration.links[index].metadata.items()]
    return " ".join(words)


def program_text(record: ProgramRecord) -> str:
    app = f", application {record.application}" if record.application else ""
    return f"{record.type} {record.name}{app}"


@contextmanager
def naming(where: str) -> Iterator[None]:
    """Errors raised in the body name ``where`` first (same class, same exit status)."""
    try:
        yield
    except BpfmanError as exc:
        exc.args = (f"{where}: {exc}",)
        raise
