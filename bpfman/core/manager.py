"""The core operations: load, attach, detach, unload, list and get.

Every mutating operation runs inside one state write transaction (which also
serialises concurrent bpfman processes) and keeps an undo list, so after any
failure the kernel, bpffs and the state agree: nothing stays loaded, pinned or
recorded that ``list`` would not show.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from bpfman import kernel

from .bpffs import Layout, mount_bpffs, remove_dir, unpin
from .config import Config, default_root, load_config, missing_privilege
from .errors import (
    ConflictError,
    InvalidInputError,
    KernelError,
    NotFoundError,
    NotManagedError,
    PermissionDeniedError,
)
from .logs import get_logger
from .model import APPLICATION_KEY, LinkRecord, ProgramRecord
from .requests import ProgramRequest
from .state import Store, Txn

if TYPE_CHECKING:
    from bpfman.images import ImageStore

    from .context import LinkView
    from .plugins import Plugins

log = get_logger(__name__)


class LinkDetails(NamedTuple):
    """A link with the program it belongs to and its plugin's description."""

    link: LinkRecord
    program: ProgramRecord
    view: LinkView
    position: int | None


class ProgramDetails(NamedTuple):
    """What ``get program`` shows: bpfman's record (if any) and the kernel's."""

    id: int
    record: ProgramRecord | None
    links: list[LinkDetails]
    maps_used_by: list[int]
    kernel: kernel.ProgInfo | None


class ProgramSummary(NamedTuple):
    """One row of ``list programs``."""

    id: int
    application: str
    type: str
    name: str
    link_ids: list[int]
    managed: bool


class Bpfman:
    """bpfman's core, for the CLI and for tools that embed it.

    :param root: state and bpffs root (default ``$BPFMAN_ROOT`` or
        ``/run/bpfman``).
    :param plugins: a plugin manager; discovered from entry points by default.
    """

    def __init__(self, root: Path | str | None = None, plugins: Plugins | None = None) -> None:
        self.layout = Layout(Path(root) if root is not None else default_root())
        self.store = Store(self.layout.db)
        self._plugins = plugins
        self._config: Config | None = None
        self._images: ImageStore | None = None

    @property
    def plugins(self) -> Plugins:
        if self._plugins is None:
            from .plugins import get_plugin_manager

            self._plugins = get_plugin_manager()
        return self._plugins

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(self.layout.root)
        return self._config

    @property
    def images(self) -> ImageStore:
        """The local bytecode image store (imports the OCI stack on first use)."""
        if self._images is None:
            from bpfman.images import ImageSettings, ImageStore

            self._privileged()
            self._images = ImageStore(
                self.layout.root, ImageSettings.from_mapping(self.config.tables)
            )
        return self._images

    def close(self) -> None:
        self.store.close()

    # -- helpers ------------------------------------------------------------
    def _privileged(self) -> None:
        reason = missing_privilege()
        if reason:
            raise PermissionDeniedError(reason)

    @contextmanager
    def _mutation(self) -> Iterator[Txn]:
        """A write transaction with bpffs mounted and crash leftovers removed.

        The mount happens under LMDB's writer lock, so concurrent first
        commands on a fresh root cannot stack two bpffs mounts.
        """
        self._privileged()
        with self.store.write() as txn:
            mount_bpffs(self.layout.fs)
            self._reconcile(txn)
            yield txn

    def _managed(self, txn: Txn, program_id: int) -> ProgramRecord:
        record = txn.get_program(program_id)
        if record is not None:
            return record
        try:
            kernel.prog_fd_by_id(program_id).close()
        except NotFoundError:
            raise NotFoundError(f"no program with id {program_id}") from None
        raise NotManagedError(f"program {program_id} is not managed by bpfman")

    def _reconcile(self, txn: Txn) -> None:
        """Drop pins a crashed bpfman left behind without a record."""
        programs = txn.programs()
        pins = {p.pin for p in programs}
        for entry in self.layout.fs.glob("prog_*"):
            if str(entry) not in pins:
                log.info("removing orphan program pin %s", entry)
                unpin(entry)
        links = {link.pin for link in txn.links() if link.pin}
        links_dir = self.layout.fs / "links"
        if links_dir.is_dir():
            for entry in links_dir.iterdir():
                if str(entry) not in links:
                    log.info("removing orphan link pin %s", entry)
                    unpin(entry)
        map_dirs = {p.map_pin_path for p in programs}
        maps_dir = self.layout.fs / "maps"
        if maps_dir.is_dir():
            for entry in maps_dir.iterdir():
                if str(entry) not in map_dirs:
                    log.info("removing orphan map directory %s", entry)
                    remove_dir(entry)

    # -- load ---------------------------------------------------------------
    def load_file(
        self,
        path: str | os.PathLike[str],
        programs: Sequence[ProgramRequest | str],
        **options: Any,
    ) -> list[ProgramRecord]:
        """Load programs from a local object file; all or nothing."""
        location = os.path.abspath(path)
        if not os.path.isfile(location):
            raise NotFoundError(f"bytecode file {path} not found")
        return self._load(
            lambda: kernel.BpfObject.open_file(location), {"path": location}, programs, **options
        )

    def load_bytes(
        self,
        data: bytes,
        name: str,
        source: dict[str, str],
        programs: Sequence[ProgramRequest | str],
        **options: Any,
    ) -> list[ProgramRecord]:
        """Load programs from object bytes (an image layer); all or nothing."""
        return self._load(
            lambda: kernel.BpfObject.open_bytes(data, name), source, programs, **options
        )

    def load_image(
        self,
        url: str,
        programs: Sequence[ProgramRequest | str],
        *,
        pull_policy: str = "IfNotPresent",
        registry_auth: str | None = None,
        **options: Any,
    ) -> list[ProgramRecord]:
        """Pull (per ``pull_policy``) a bytecode image and load programs from it."""
        from bpfman.images import PullPolicy

        self._privileged()
        policy = PullPolicy.parse(pull_policy)
        requests = [
            p if isinstance(p, ProgramRequest) else ProgramRequest.parse(p) for p in programs
        ]
        self._check_requests(requests)
        bytecode = self.images.pull(url, policy, registry_auth)
        bytecode.require(r.function for r in requests)
        source = {"image_url": url, "pull_policy": policy.value, "digest": bytecode.digest}
        return self.load_bytes(bytecode.data, url.rsplit("/", 1)[-1], source, requests, **options)

    def _load(
        self,
        open_object: Callable[[], kernel.BpfObject],
        source: dict[str, str],
        programs: Sequence[ProgramRequest | str],
        *,
        globals: dict[str, bytes] | None = None,
        metadata: dict[str, str] | None = None,
        map_owner_id: int | None = None,
    ) -> list[ProgramRecord]:
        requests = [
            p if isinstance(p, ProgramRequest) else ProgramRequest.parse(p) for p in programs
        ]
        if not requests:
            raise InvalidInputError("no program given: use --programs <TYPE>:<FUNC_NAME>")
        self._check_requests(requests)
        with self._mutation() as txn, ExitStack() as undo:
            owner = self._managed(txn, map_owner_id) if map_owner_id is not None else None
            try:
                obj = open_object()
            except KernelError as exc:
                raise InvalidInputError(
                    f"{_source_text(source)}: not a valid BPF object ({exc})"
                ) from exc
            with obj:
                records = self._load_object(
                    obj, txn, undo, requests, source, owner, globals or {}, metadata or {}
                )
            undo.pop_all()
            return records

    def _check_requests(self, requests: list[ProgramRequest]) -> None:
        seen: set[str] = set()
        for req in requests:
            ptype = self.plugins.program_type(req.type)
            if req.function in seen:
                raise InvalidInputError(f"function {req.function} is listed twice")
            seen.add(req.function)
            if ptype.needs_attach_func and not req.attach_func:
                raise InvalidInputError(
                    f"{req.type} programs need the attach function: "
                    f"--programs {req.type}:{req.function}:<ATTACH_FUNC>"
                )
            if not ptype.needs_attach_func and req.attach_func:
                raise InvalidInputError(
                    f"{req.type} programs take no attach function: use {req.type}:{req.function}"
                )

    def _load_object(
        self,
        obj: kernel.BpfObject,
        txn: Txn,
        undo: ExitStack,
        requests: list[ProgramRequest],
        source: dict[str, str],
        owner: ProgramRecord | None,
        globals: dict[str, bytes],
        metadata: dict[str, str],
    ) -> list[ProgramRecord]:
        sections = {spec.name: spec.section for spec in obj.programs()}
        obj.select(req.function for req in requests)
        plugin_data: list[dict[str, Any]] = []
        for req in requests:
            ptype = self.plugins.program_type(req.type)
            obj.set_type(req.function, ptype.kernel_type, ptype.expected_attach_type)
            if req.attach_func:
                obj.set_attach_target(req.function, req.attach_func)
            data = self.plugins.hook.bpfman_prepare_load(
                program_type=req.type,
                function=req.function,
                section=sections[req.function],
                attach_func=req.attach_func,
                obj=obj,
            )
            plugin_data.append(data or {})
        for name, value in globals.items():
            obj.set_global(name, value)
        shared = [m.name for m in obj.maps() if not m.internal]
        if owner is not None:
            for name in shared:
                pinned = Path(owner.map_pin_path) / name
                if pinned.exists():
                    with kernel.obj_get(str(pinned)) as reused:  # libbpf keeps a dup
                        obj.reuse_map(name, reused.fd)
        obj.load()

        # Records keep the kernel type the bpfman type stands for (filters use
        # it), even where a plugin loaded the program as another (freplace: ext).
        ptype_of = {req.type: self.plugins.program_type(req.type) for req in requests}
        records: list[ProgramRecord] = []
        for req, data in zip(requests, plugin_data, strict=True):
            fd = obj.program_fd(req.function)
            info = kernel.prog_info(fd)
            pin = self.layout.prog_pin(info.id)
            kernel.obj_pin(fd, str(pin))
            undo.callback(unpin, pin)
            records.append(
                ProgramRecord(
                    id=info.id,
                    name=req.function,
                    type=req.type,
                    kernel_type=ptype_of[req.type].kernel_type,
                    source=dict(source),
                    pin=str(pin),
                    map_pin_path="",
                    globals={k: v.hex() for k, v in globals.items()},
                    metadata=dict(metadata),
                    attach_func=req.attach_func,
                    plugin_data=data,
                )
            )
        # The maps live where the owner's live, even if the owner shares another's.
        map_dir = Path(owner.map_pin_path) if owner else self.layout.map_dir(records[0].id)
        owner_id = int(map_dir.name)
        if owner is None:
            map_dir.mkdir(parents=True, exist_ok=True)
            undo.callback(remove_dir, map_dir)
        for name in shared:
            target = map_dir / name
            if not target.exists():
                kernel.obj_pin(obj.map_fd(name), str(target))
                undo.callback(unpin, target)
        for record in records:
            record.map_pin_path = str(map_dir)
            if owner is not None or record is not records[0]:
                record.map_owner_id = owner_id
            txn.put_program(record)
        return records

    # -- attach / detach ----------------------------------------------------
    def attach(
        self,
        program_id: int,
        program_type: str,
        params: dict[str, Any],
        metadata: dict[str, str] | None = None,
    ) -> LinkRecord:
        """Attach a loaded program; ``params`` are the type's attach options."""
        self.plugins.program_type(program_type)
        with self._mutation() as txn:
            program = self._managed(txn, program_id)
            if program.type != program_type:
                raise InvalidInputError(
                    f"program {program_id} is a {program.type} program, not {program_type}: "
                    f"use `bpfman attach {program_id} {program.type} ...`"
                )
            from .context import AttachContext

            ctx = AttachContext(
                txn, self.layout, program, dict(params), _new_link_id(txn), txn.next_seq()
            )
            try:
                recorded = self.plugins.hook.bpfman_attach(program_type=program_type, ctx=ctx)
                if recorded is None:
                    from .plugins import PluginError

                    raise PluginError(f"no plugin attaches {program_type} programs")
                link = ctx.pending_link(recorded)
                link.metadata = dict(metadata or {})
                txn.put_link(link)
            except KernelError as exc:
                ctx.rollback()
                if exc.errno == errno.EEXIST:
                    where = " ".join(str(v) for v in params.values() if v not in (None, ""))
                    raise ConflictError(
                        f"program {program_id} is already attached to {program_type} {where}"
                    ) from exc
                raise
            except BaseException:
                ctx.rollback()
                raise
            return link

    def detach(self, link_id: int) -> None:
        """Detach one link; its program stays loaded."""
        with self._mutation() as txn:
            link = txn.get_link(link_id)
            if link is None:
                raise NotFoundError(f"no link with id {link_id}")
            program = txn.get_program(link.program_id)
            if program is None:
                raise NotFoundError(f"link {link_id} belongs to no loaded program")
            self._detach(txn, program, link)

    def _detach(self, txn: Txn, program: ProgramRecord, link: LinkRecord) -> None:
        from .context import DetachContext

        ctx = DetachContext(txn, self.layout, program, link)
        try:
            handled = self.plugins.hook.bpfman_detach(program_type=link.type, ctx=ctx)
        except BaseException:
            ctx.rollback()
            raise
        if link.pin and not handled:
            unpin(link.pin)
        txn.delete_link(link.id)

    def unload(self, program_id: int) -> None:
        """Detach every link of the program, then unload it.

        Each detach commits on its own: a link whose detach fails stays
        recorded (and attached), while those already gone are not claimed.
        """
        while True:
            with self._mutation() as txn:
                program = self._managed(txn, program_id)
                links = txn.links_of(program_id)
                if links:
                    self._detach(txn, program, links[0])
                    continue
                unpin(program.pin)
                txn.delete_program(program_id)
                if not any(p.map_pin_path == program.map_pin_path for p in txn.programs()):
                    remove_dir(Path(program.map_pin_path))
                return

    # -- queries ------------------------------------------------------------
    def list_programs(
        self,
        *,
        all: bool = False,
        kernel_type: str | None = None,
        application: str | None = None,
        selector: dict[str, str] | None = None,
    ) -> list[ProgramSummary]:
        """Programs bpfman loaded (``all``: every program in the kernel)."""
        self._privileged()
        wanted = _kernel_type_filter(kernel_type)
        conditions = dict(selector or {})
        if application is not None:
            conditions[APPLICATION_KEY] = application
        records: list[ProgramRecord] = []
        link_ids: dict[int, list[int]] = {}
        if self.store.exists():
            with self.store.read() as txn:
                records = txn.programs()
                for link in sorted(txn.links(), key=lambda ln: ln.seq):
                    link_ids.setdefault(link.program_id, []).append(link.id)
        rows = [
            ProgramSummary(r.id, r.application, r.type, r.name, link_ids.get(r.id, []), True)
            for r in records
            if (wanted is None or r.kernel_type in wanted) and all_match(r.metadata, conditions)
        ]
        if all and not conditions:
            managed = {r.id for r in records}
            for prog_id in kernel.iter_prog_ids():
                if prog_id in managed:
                    continue
                try:
                    with kernel.prog_fd_by_id(prog_id) as fd:
                        info = kernel.prog_info(fd.fd)
                except NotFoundError:
                    continue  # unloaded while we walked
                if wanted is None or info.type in wanted:
                    rows.append(ProgramSummary(info.id, "", info.type_name, info.name, [], False))
        return sorted(rows, key=lambda row: row.id)

    def get_program(self, program_id: int) -> ProgramDetails:
        self._privileged()
        record: ProgramRecord | None = None
        links: list[LinkDetails] = []
        used_by: list[int] = []
        if self.store.exists():
            with self.store.read() as txn:
                record = txn.get_program(program_id)
                if record is not None:
                    links = [self._describe(txn, link, record) for link in txn.links_of(program_id)]
                    used_by = sorted(
                        p.id for p in txn.programs() if p.map_pin_path == record.map_pin_path
                    )
        info: kernel.ProgInfo | None = None
        try:
            with kernel.prog_fd_by_id(program_id) as fd:
                info = kernel.prog_info(fd.fd)
        except NotFoundError:
            if record is None:
                raise NotFoundError(f"no program with id {program_id}") from None
        return ProgramDetails(program_id, record, links, used_by, info)

    def list_links(
        self,
        *,
        kernel_type: str | None = None,
        application: str | None = None,
        selector: dict[str, str] | None = None,
    ) -> list[LinkDetails]:
        self._privileged()
        if not self.store.exists():
            return []
        wanted = _kernel_type_filter(kernel_type)
        conditions = dict(selector or {})
        rows: list[LinkDetails] = []
        with self.store.read() as txn:
            programs = {p.id: p for p in txn.programs()}
            for link in txn.links():
                program = programs.get(link.program_id)
                if program is None:
                    continue
                if wanted is not None and program.kernel_type not in wanted:
                    continue
                if application is not None and program.application != application:
                    continue
                if not all_match({**program.metadata, **link.metadata}, conditions):
                    continue
                rows.append(self._describe(txn, link, program))
        return sorted(rows, key=lambda d: (d.program.id, d.link.seq))

    def get_link(self, link_id: int) -> LinkDetails:
        self._privileged()
        if self.store.exists():
            with self.store.read() as txn:
                link = txn.get_link(link_id)
                if link is not None:
                    program = txn.get_program(link.program_id)
                    if program is not None:
                        return self._describe(txn, link, program)
        raise NotFoundError(f"no link with id {link_id}")

    def _describe(self, txn: Txn, link: LinkRecord, program: ProgramRecord) -> LinkDetails:
        position = None
        if link.hook is not None:
            ids = [other.id for other in txn.links_on_hook(link.hook)]
            position = ids.index(link.id)
        view = None
        if link.type in self.plugins.types:
            view = self.plugins.hook.bpfman_describe_link(
                program_type=link.type, link=link, program=program, position=position
            )
        if view is None:  # the plugin is gone: show the raw record
            from .context import LinkView

            view = LinkView(
                attachment=" ".join(str(v) for v in link.params.values()),
                rows=[(k.replace("_", " ").title(), _text(v)) for k, v in link.params.items()],
                data=dict(link.params),
            )
        return LinkDetails(link, program, view, position)


def all_match(metadata: dict[str, str], conditions: dict[str, str]) -> bool:
    return all(metadata.get(k) == v for k, v in conditions.items())


def _kernel_type_filter(name: str | None) -> set[int] | None:
    if name is None:
        return None
    wanted = name.replace("-", "_")
    matches = {num for num, text in kernel.KERNEL_PROG_TYPES.items() if text == wanted}
    if not matches:
        known = ", ".join(t.replace("_", "-") for t in kernel.KERNEL_PROG_TYPES.values())
        raise InvalidInputError(f"unknown program type {name!r} (possible values: {known})")
    return matches


def _new_link_id(txn: Txn) -> int:
    """A random u32 link id, never one that is alive."""
    while True:
        candidate = int.from_bytes(os.urandom(4), "little")
        if candidate and not txn.link_exists(candidate):
            return candidate


def _text(value: Any) -> str:
    return "None" if value is None or value == "" else str(value)


def _source_text(source: dict[str, str]) -> str:
    return source.get("path") or source.get("image_url") or "object"
