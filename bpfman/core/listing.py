"""The read-only queries of one snapshot (``list``, ``get``), and ``list`` without the manager.

Scripts run ``list`` in loops, a new process each time, and the manager's
imports (typing, pathlib, dataclasses, the configuration's parser) cost it
more than reading 1,000 programs does. So the queries live here, with the
store's own lean modules, and :func:`healthy` opens the snapshot they read
after the manager's checks, in its order: the privilege, the root's trust
walk, the data file's header. Whatever would make the manager do more than
read (no store yet, a journal left by a writer that died, a corrupt record to
warn about) is left to it: :func:`healthy` yields None, or the caller finds
:attr:`~.state.Txn.corrupt` set, and asks the manager instead.
"""

from __future__ import annotations

import os
from contextlib import contextmanager, nullcontext
from functools import cache, partial

from bpfman.privilege import require_privilege

from . import root as names
from .model import LinkDetails, LinkView, ProgramSummary, plain_view
from .state import Store
from .trust import trusted_root

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping, Sequence
    from contextlib import AbstractContextManager

    from .filters import Selector
    from .liveness import Liveness
    from .model import LinkRecord, ProgramRecord
    from .plugins import Plugins
    from .state import Txn


class Queries:
    """What ``list`` and ``get`` ask of the store (the manager's :meth:`~.Bpfman.list_programs`
    and :meth:`~.Bpfman.list_links` are :meth:`programs` and :meth:`links`).

    :param read: a snapshot to read (None: nothing was ever recorded), taken
        once the filters are known to be valid.
    :param plugins: the plugin manager, asked only for a type name that may
        be bpfman's, a link kind, or a link recorded without its description.
    :param links_dir: where the core pins links, for :class:`~.liveness.Liveness`.
    """

    def __init__(
        self,
        read: Callable[[], AbstractContextManager[Txn | None]],
        plugins: Callable[[], Plugins],
        links_dir: str,
    ) -> None:
        self._read = read
        self._plugins = plugins
        self._links_dir = links_dir

    def programs(
        self,
        *,
        all: bool = False,
        kernel_type: str | None = None,
        type: str | None = None,
        application: str | None = None,
        selector: Selector | Mapping[str, str] | None = None,
        attached: bool | None = None,
    ) -> list[ProgramSummary]:
        """Programs bpfman loaded (``all``: every program in the kernel).

        :param kernel_type: a type name, the kernel's reading first (``tc``:
            every sched_cls program, tcx's too); bpfman's type names work too.
        :param type: a type name, bpfman's reading first (``tc``: bpfman's tc
            programs; with ``all``, the kernel's sched_cls programs too); the
            kernel's names (``probe``) work too.
        :param selector: metadata to match: ``{key: value}`` pairs or a
            :class:`~bpfman.core.filters.Selector` (``Selector.parse("a=b,c!=d")``).
        :param attached: True keeps programs with links, False those without.

        ``application``, ``selector`` and ``attached`` keep bpfman's programs only.
        """
        from bpfman import kernel

        from .filters import Selector, application_selector, type_filters

        types = type_filters(kernel_type, type, self._plugins)
        conditions = application_selector(application) & Selector.of(selector)
        records: list[ProgramRecord] = []
        link_ids: dict[int, list[int]] = {}
        with self._read() as txn:
            if txn is not None:
                records, link_ids = txn.programs(), txn.link_ids()
        rows = [
            ProgramSummary.of(r, link_ids)
            for r in records
            if types.keeps(r)
            and conditions.matches(r.metadata)
            and (attached is None or attached == bool(link_ids.get(r.id)))
        ]
        if all and not conditions and attached is None:
            managed = {r.id for r in records}
            rows += [
                ProgramSummary(info.id, "", info.type_name, info.name, [], False)
                for info in kernel.prog_infos(skip=managed, full_names=True)
                if types.keeps_kernel(info.type)
            ]
        return sorted(rows, key=lambda row: row.id)

    def links(
        self,
        *,
        kernel_type: str | None = None,
        type: str | None = None,
        application: str | None = None,
        selector: Selector | Mapping[str, str] | None = None,
        program_id: int | None = None,
        kind: str | Sequence[str] | None = None,
    ) -> list[LinkDetails]:
        """Links bpfman made, by their program (its id, type and application), the
        metadata of the link and its program (``selector``) and their own type
        (``kind``: type names, a list or comma-separated), as programs are listed."""
        from .filters import Selector, application_selector, link_kinds, type_filters

        types = type_filters(kernel_type, type, self._plugins)
        owner, conditions = application_selector(application), Selector.of(selector)
        kinds = link_kinds(kind, self._plugins)
        rows: list[LinkDetails] = []
        with self._read() as txn:
            if txn is None:
                return []
            programs = {p.id: p for p in txn.programs()}
            liveness = self.liveness(txn)
            for link in txn.links():
                program = programs.get(link.program_id)
                if program is None:
                    continue
                if program_id is not None and program.id != program_id:
                    continue
                if kinds and link.type not in kinds:
                    continue
                if not (types.keeps(program) and owner.matches(program.metadata)):
                    continue
                if not conditions.matches({**program.metadata, **link.metadata}):
                    continue
                rows.append(self.describe(liveness, link, program))
        return sorted(rows, key=lambda d: (d.program.id, d.link.seq))

    def liveness(self, txn: Txn) -> Liveness:
        """What :meth:`describe` asks whether links still run (each fact once per read)."""
        from .liveness import Liveness

        return Liveness(txn, self._links_dir)

    def describe(self, liveness: Liveness, link: LinkRecord, program: ProgramRecord) -> LinkDetails:
        """The recorded view, with the link's current position among the live links
        of a shared hook, or why it is detached."""
        view = LinkView(link.attachment, [(str(k), str(v)) for k, v in link.rows])
        if not view.attachment:  # recorded by an older bpfman: ask the plugin, or show raw
            view = self._view_of(link)
        detached = liveness.detached(link)
        if detached is not None:
            view = LinkView(
                f"{view.attachment} (detached: {detached})", [*view.rows, ("Detached", detached)]
            )
            return LinkDetails(link, program, view, None, detached)
        position = None
        if link.hook is not None:
            ids = liveness.live_on_hook(link.hook)
            position = ids.index(link.id) if link.id in ids else None
            view = LinkView(
                f"{view.attachment} pos-{position}", _with_position(view.rows, position)
            )
        return LinkDetails(link, program, view, position)

    def _view_of(self, link: LinkRecord) -> LinkView:
        from bpfman.errors import InvalidInputError

        try:
            return self._plugins().handler(link.type).describe(link.params)
        except (InvalidInputError, KeyError):
            return plain_view(link.params)


def _with_position(rows: list[tuple[str, str]], position: int | None) -> list[tuple[str, str]]:
    """The rows with ``Position`` after ``Priority``."""
    at = next((i + 1 for i, (label, _) in enumerate(rows) if label == "Priority"), None)
    return rows if at is None else [*rows[:at], ("Position", str(position)), *rows[at:]]


@contextmanager
def healthy(root: str) -> Iterator[tuple[Queries, Txn | None] | None]:
    """Queries of one snapshot of ``root``'s store, and that snapshot; None: ask the manager.

    A root without a store or a bpffs (bpfman never ran here) has nothing
    recorded: its snapshot is None. The caller must also ask the manager when
    the queries met a corrupt record (the snapshot's :attr:`~.state.Txn.corrupt`):
    they skipped it without a word.
    """
    require_privilege()
    root = trusted_root(root)
    store = Store(os.path.join(root, names.DB))
    plugins, links = cache(partial(_plugins, root)), os.path.join(root, names.FS, names.LINKS)
    try:
        if not store.exists():
            if os.path.lexists(os.path.join(root, names.FS)):
                yield None  # pins without records? the manager tells
            else:
                yield Queries(partial(nullcontext, None), plugins, links), None
            return
        with store.read(quiet=True) as txn:
            if txn.journal():
                yield None
                return
            yield Queries(partial(nullcontext, txn), plugins, links), txn
    finally:
        store.close()


def _plugins(root: str) -> Plugins:
    """The plugin manager, as the manager makes it for ``root`` (imported when asked)."""
    from pathlib import Path

    from .plugins import get_plugin_manager

    return get_plugin_manager(cache=Path(root, names.PLUGINS_CACHE))
