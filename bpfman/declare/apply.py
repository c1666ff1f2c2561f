"""``bpfman system apply``: make the host run what the declarations say, or nothing.

Everything that can be checked without touching the kernel is checked first:
the files (TOML, types, names, references), each bytecode file against its
sha256, each image against its digest (pulled, unless only checking), the
interfaces links go to and what their types resolve before attaching. Then
the plan runs through the public operations, in this order: load, detach,
attach, and (``--prune``) unload. If a load, detach or attach fails, what this
apply did is undone, newest first, and the error names the entry; unloads come
last because nothing can bring an unloaded program back as it was.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import partial

from bpfman.core.model import LinkRecord, ProgramRecord
from bpfman.errors import BpfmanError, ImageError, InvalidInputError, NotFoundError
from bpfman.inputs import HexValue, ProgramRequest
from bpfman.logs import get_logger
from bpfman.privilege import require_privilege

from .host import Host, Manager, recorded_options
from .plan import Action, Checked, Plan, Steps, check, make_plan, naming, program_text, stub_record
from .save import file_sha256
from .schema import Declaration, FileSource, ImageSource, ProgramEntry, merged, read

log = get_logger(__name__)
Source = Declaration | str | os.PathLike[str]


@dataclass(frozen=True)
class Applied:
    """What ``apply`` found and did.

    :param plan: what the host needed (``plan.matches``: nothing).
    :param done: what was done, with the new program and link ids (empty
        when only checking or when nothing was needed).
    :param checked: only the plan was made (``--check``).
    """

    plan: Plan
    done: tuple[Action, ...]
    checked: bool


def apply(bm: Manager, sources: Iterable[Source], *, check_only: bool, prune: bool) -> Applied:
    require_privilege()  # before reading anything: the answer does not depend on the files
    declaration = _declaration(sources)
    checked = check(declaration, bm.plugins)
    _check_files(checked.declaration)
    plan, steps = make_plan(checked, Host.read(bm), prune)
    _check_host(bm, checked, steps, pull=not check_only)
    if check_only or plan.matches:
        return Applied(plan, (), check_only)
    return Applied(plan, tuple(_run(bm, checked, steps)), False)


def _declaration(sources: Iterable[Source]) -> Declaration:
    """Files, folders (their ``*.toml``) and declarations, merged in the order given."""
    parts: list[Declaration] = []
    paths: list[str | os.PathLike[str]] = []
    for source in sources:
        if isinstance(source, Declaration):
            parts.append(source)
        else:
            paths.append(source)
    if paths:
        parts.append(read(paths))
    return merged(parts)


def _check_files(declaration: Declaration) -> None:
    for entry in declaration.programs:
        source = entry.source
        if not isinstance(source, FileSource):
            continue
        if not os.path.isfile(source.path):
            raise NotFoundError(f"{entry.where()}: bytecode file {source.path} not found")
        if source.sha256 is None:
            continue
        try:
            found = file_sha256(source.path)
        except OSError as exc:
            raise NotFoundError(
                f"{entry.where()}: cannot read {source.path}: {exc.strerror}"
            ) from None
        if found != source.sha256:
            raise InvalidInputError(
                f"{entry.where()}: {source.path} has changed: its sha256 is {found}, "
                f"the declaration says {source.sha256}"
            )


def _check_host(bm: Manager, checked: Checked, steps: Steps, *, pull: bool) -> None:
    """What the host must offer before anything changes: images, interfaces, targets."""
    if pull:
        for entry in steps.loads:
            if isinstance(entry.source, ImageSource):
                with naming(entry.where()):
                    _pull(bm, entry, entry.source)
    for i in steps.attaches:
        link = checked.declaration.links[i]
        entry = checked.names[link.program]
        params = checked.params[i]
        record = steps.matched.get(entry.name) or stub_record(entry, checked.types[entry.name])
        with naming(link.where()):
            iface, netns = getattr(params, "iface", None), getattr(params, "netns", None)
            if isinstance(iface, str) and (netns is None or isinstance(netns, str)):
                from bpfman.plugins.netdev import resolve_ifindex

                resolve_ifindex(iface, netns)
            checked.types[entry.name].handler.resolve(params, record)


def _pull(bm: Manager, entry: ProgramEntry, source: ImageSource) -> None:
    from bpfman.images import PullPolicy

    bytecode = bm.images.pull(source.url, PullPolicy.parse(source.pull_policy))
    if source.digest is not None and bytecode.digest != source.digest:
        raise ImageError(
            f"{source.url} is {bytecode.digest} now, the declaration says {source.digest}"
        )
    bytecode.require([entry.function])


def _run(bm: Manager, checked: Checked, steps: Steps) -> list[Action]:
    """Execute the steps; undo them all if one fails (unloads excepted: they come last)."""
    done: list[Action] = []
    undo: list[tuple[str, Callable[[], object]]] = []
    ids = {name: record.id for name, record in steps.matched.items()}
    where = ""
    try:
        for entry in steps.loads:
            where = entry.where()
            record = _load(bm, entry, ids)
            ids[entry.name] = record.id
            undo.append((f"unload program {record.id}", partial(bm.unload, record.id)))
            done.append(
                Action(
                    "load", f'"{entry.name}": program {record.id}', entry.name, record.id, done=True
                )
            )
        for link, program, _ in steps.detaches:
            where = f"link {link.id} of program {program.id}"
            bm.detach(link.id)
            undo.append((f"attach link {link.id} again", partial(_reattach, bm, link, program)))
            done.append(Action("detach", f"link {link.id}", None, program.id, link.id, done=True))
        for i in steps.attaches:
            declared = checked.declaration.links[i]
            where = declared.where()
            new = bm.attach(
                ids[declared.program], dict(declared.options), metadata=declared.metadata
            )
            undo.append((f"detach link {new.id}", partial(bm.detach, new.id)))
            done.append(
                Action(
                    "attach",
                    f'"{declared.program}": link {new.id} ({new.attachment})',
                    declared.program,
                    new.program_id,
                    new.id,
                    done=True,
                )
            )
    except BaseException as exc:
        failed = _undo(undo)
        if isinstance(exc, BpfmanError):
            tail = f"; could not undo: {', '.join(failed)}" if failed else "; nothing was changed"
            exc.args = (f"{where}: {exc}{tail}",)
        raise
    for record in steps.unloads:
        with naming(f"program {record.id} ({program_text(record)})"):
            bm.unload(record.id)
        done.append(Action("unload", f"program {record.id}", None, record.id, done=True))
    return done


def _load(bm: Manager, entry: ProgramEntry, ids: dict[str, int]) -> ProgramRecord:
    request = [ProgramRequest(entry.type, entry.function, entry.attach_func)]
    values: dict[str, bytes] = {k: HexValue(v) for k, v in entry.globals.items()}
    owner = ids[entry.map_owner] if entry.map_owner else None
    source = entry.source
    if isinstance(source, FileSource):
        [record] = bm.load_file(
            source.path, request, globals=values, metadata=entry.metadata, map_owner_id=owner
        )
        return record
    [record] = bm.load_image(
        source.url,
        request,
        pull_policy=source.pull_policy,
        globals=values,
        metadata=entry.metadata,
        map_owner_id=owner,
    )
    digest = record.source.get("digest")
    if source.digest is not None and digest != source.digest:
        bm.unload(record.id)
        raise ImageError(f"{source.url} is {digest} now, the declaration says {source.digest}")
    return record


def _reattach(bm: Manager, link: LinkRecord, program: ProgramRecord) -> None:
    """Attach a detached link again with its recorded options and metadata."""
    cls = bm.plugins.program_type(program.type).params
    options = {k: v for k, v in recorded_options(cls, link.params).items() if v is not None}
    bm.attach(program.id, options, metadata=link.metadata)


def _undo(steps: list[tuple[str, Callable[[], object]]]) -> list[str]:
    """Run the undo steps newest first; the ones that failed."""
    failed = []
    for what, step in reversed(steps):
        try:
            step()
        except BpfmanError as exc:
            log.warning("undoing apply: %s failed: %s", what, exc)
            failed.append(what)
    return failed
