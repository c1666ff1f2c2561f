"""The core operations: load, attach, detach, unload, list and get.

Every mutating operation holds the writers' lock, journals the kernel objects
it creates before it creates them (:mod:`.journal`) and commits its records
in one transaction, so after any failure -- an exception or a crash -- the
kernel, bpffs and the state agree: nothing stays loaded, pinned or recorded
that ``list`` would not show. Readers never take the lock.
"""

from __future__ import annotations

import errno
import functools
import os
import stat
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING, Concatenate, ParamSpec, TypeVar

from bpfman import kernel
from bpfman.config import Config, load_config
from bpfman.errors import (
    ConflictError,
    InvalidInputError,
    KernelError,
    LostStateError,
    NotFoundError,
    NotManagedError,
)
from bpfman.inputs import (
    ProgramRequest,
    checked_globals,
    checked_metadata,
    program_requests,
    shown_hex,
)
from bpfman.kernel.limits import FD_ERRNOS, fd_error, require_fds
from bpfman.logs import get_logger
from bpfman.privilege import require_privilege
from bpfman.validate import text

from .bpffs import (
    Layout,
    holds_pins,
    is_bpffs,
    is_pinned,
    mount_bpffs,
    prepare_root,
    remove_tree,
    unpin,
    unpin_link,
)
from .journal import Operation, replay
from .listing import Queries
from .model import (
    APPLICATION_KEY,
    LinkDetails,
    LinkRecord,
    ProgramDetails,
    ProgramRecord,
    ProgramSummary,
    Resource,
)
from .root import default_root
from .state import Store, Txn
from .trust import trusted_root

if TYPE_CHECKING:
    from bpfman.declare import Applied, Declaration
    from bpfman.images import ImageStore, PullPolicy

    from .context import Scope
    from .contract import AttachParams, ProgramType
    from .plugins import Plugins

log = get_logger(__name__)
P = ParamSpec("P")
R = TypeVar("R")

UNLOAD_WAIT = 5.0  # seconds unload waits for the kernel to free the program

#: Run once the writers' lock is taken, before an operation changes anything:
#: raising leaves the operation unstarted. The service sets it per request, so
#: that a request whose client left, or whose deadline passed, while it waited
#: for the lock is never started.
before_start: ContextVar[Callable[[], None] | None] = ContextVar("before_start", default=None)


def _asked(
    query: Callable[Concatenate[Queries, P], R], name: str
) -> Callable[Concatenate[Bpfman, P], R]:
    """A query of :class:`~.listing.Queries` as the manager's method ``name``: it reads
    a snapshot as :meth:`Bpfman._read` does (crashes recovered first)."""

    @functools.wraps(query)
    def method(self: Bpfman, /, *args: P.args, **kwargs: P.kwargs) -> R:
        return query(self._queries(), *args, **kwargs)

    method.__name__, method.__qualname__ = name, f"Bpfman.{name}"
    return method


class Bpfman:
    """bpfman's core, for the CLI, the service and tools that embed it.

    :param root: state and bpffs root (default ``$BPFMAN_ROOT`` or
        ``/run/bpfman``); made absolute here, once, with trusted symlinks
        resolved, and refused when another user could move it
        (:func:`~bpfman.core.trust.trusted_root`).
    :param plugins: a plugin manager; discovered from entry points by default.
    :param lock_timeout: seconds a mutation waits for another writer's lock
        before it gives up with :class:`LockTimeoutError` (default: forever).

    Use it as a context manager (or call :meth:`close`) to release the store.
    """

    def __init__(
        self,
        root: Path | str | None = None,
        plugins: Plugins | None = None,
        *,
        lock_timeout: float | None = None,
    ) -> None:
        self.lock_timeout = lock_timeout
        self.layout = Layout(Path(trusted_root(root if root is not None else default_root())))
        self.store = Store(self.layout.db)
        self._plugins = plugins
        self._config: Config | None = None
        self._images: ImageStore | None = None

    def __enter__(self) -> Bpfman:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def plugins(self) -> Plugins:
        if self._plugins is None:
            from .plugins import get_plugin_manager

            self._plugins = get_plugin_manager(cache=self.layout.plugins_cache)
        return self._plugins

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = load_config(self.layout.config)
        return self._config

    @property
    def images(self) -> ImageStore:
        """The local bytecode image store (imports the OCI stack on first use)."""
        if self._images is None:
            from bpfman.images import ImageSettings, ImageStore

            require_privilege()
            self._images = ImageStore(
                self.layout.images, ImageSettings.from_mapping(self.config.tables)
            )
        return self._images

    def close(self) -> None:
        self.store.close()

    # -- the machinery --------------------------------------------------------
    def _scope(self, op: Operation) -> Scope:
        from .context import Scope

        return Scope(op, self.layout, self.config)

    @contextmanager
    def _mutation(self, name: str) -> Iterator[Operation]:
        """The writers' lock, bpffs mounted, crashes recovered, and one operation.

        The operation's records are committed when the body returns; if it
        raises, what the operation created is released and nothing recorded.
        """
        require_privilege()
        prepare_root(self.layout)
        with self.store.locked(timeout=self.lock_timeout):
            check = before_start.get()
            if check is not None:
                check()
            mount_bpffs(self.layout)
            self._recover_locked()
            with self.store.snapshot() as txn:
                op = Operation(self.store, txn, self._release, name)
                try:
                    yield op
                    op.commit()
                except BaseException:
                    op.abort()
                    raise

    @contextmanager
    def transaction(self, name: str) -> Iterator[Txn]:
        """The writers' lock and a writer's view of the records, committed when the
        body returns and dropped if it raises: for front-ends that keep records of
        their own beside the programs (the CSI driver's volumes, in its namespace)."""
        with self._mutation(name) as op:
            yield op.txn

    @contextmanager
    def reading(self) -> Iterator[Txn | None]:
        """A reader's snapshot of the records (None: nothing recorded yet), without the
        lock: for front-ends that show records of their own (the dispatcher views)."""
        with self._read() as txn:
            yield txn

    def _recover_locked(self) -> None:
        """Make the store usable, finish crashed writers' operations, then reconcile."""
        self.store.prepare(fresh_ok=lambda: not holds_pins(self.layout.fs))
        if replay(self.store, self._release):
            from .recovery import reconcile

            with self.store.snapshot() as txn:
                op = Operation(self.store, txn, self._release, "reconcile")
                reconcile(op, self.layout, self.config, self.plugins)
                op.commit()

    @contextmanager
    def _read(self) -> Iterator[Txn | None]:
        """A snapshot for a query (None: nothing was ever recorded here).

        A journal entry with the writers' lock free means a writer died:
        recover first (without waiting: a live writer keeps its lock, and
        its changes are not committed yet, so the snapshot is right as is).
        """
        require_privilege()
        if not self.store.exists():
            if is_bpffs(self.layout.fs) and holds_pins(self.layout.fs):
                self.store.prepare(fresh_ok=lambda: False)  # raises LostStateError
            yield None
            return
        with self.store.read() as txn:
            crashed = bool(txn.journal())
        if crashed:
            with self.store.locked(blocking=False) as idle:
                if idle:
                    mount_bpffs(self.layout)
                    self._recover_locked()
        with self.store.read() as txn:
            yield txn

    def _release(self, resource: Resource) -> None:
        """Remove one journaled kernel object, whoever owns its kind.

        This is where every release and removal happens, so the paths a
        resource names are confined to the root's bpffs here, whatever
        recorded them (a forged record, an older version's relative path).
        """
        resource = self._confined(resource)
        if resource.owner:
            self.plugins.release(resource)
        elif resource.kind == "pin":
            unpin(resource.data["path"])
        elif resource.kind == "tree":
            remove_tree(resource.data["path"])
        elif resource.kind == "link":
            unpin_link(resource.data["path"])
        else:
            raise InvalidInputError(f"unknown resource kind {resource.kind!r}")

    def _confined(self, resource: Resource) -> Resource:
        """``resource`` with each path it names inside the root's bpffs, or StateError."""
        return resource.with_paths(lambda path: str(self.layout.confine(path)))

    def _managed(self, txn: Txn, program_id: int) -> ProgramRecord:
        record = txn.get_program(program_id)
        if record is None:
            raise _unmanaged(program_id)
        return record

    # -- load ---------------------------------------------------------------
    def load_file(
        self,
        path: str | os.PathLike[str],
        programs: Sequence[ProgramRequest | str],
        *,
        globals: Mapping[str, bytes] | None = None,
        metadata: Mapping[str, str] | None = None,
        map_owner_id: int | None = None,
    ) -> list[ProgramRecord]:
        """Load programs from a local object file; all or nothing."""
        location = os.path.abspath(text("path", os.fspath(path)))
        _require_regular_file(location, path)
        return self._load(
            lambda: kernel.BpfObject.open_file(location),
            {"path": location},
            programs,
            globals,
            metadata,
            map_owner_id,
        )

    def load_image(
        self,
        url: str,
        programs: Sequence[ProgramRequest | str],
        *,
        pull_policy: PullPolicy | str = "IfNotPresent",
        registry_auth: str | None = None,
        globals: Mapping[str, bytes] | None = None,
        metadata: Mapping[str, str] | None = None,
        map_owner_id: int | None = None,
    ) -> list[ProgramRecord]:
        """Pull (per ``pull_policy``) a bytecode image and load programs from it.

        A request whose function is empty (``ProgramRequest("xdp", "")``) loads
        the image's one program its ``io.ebpf.programs`` label gives that type.
        """
        from bpfman.images import PullPolicy

        require_privilege()
        policy = (
            pull_policy if isinstance(pull_policy, PullPolicy) else PullPolicy.parse(pull_policy)
        )
        requests = program_requests(programs)
        ptypes = self._program_types(requests)  # refuse bad requests before any download
        bytecode = self.images.pull(text("image url", url), policy, registry_auth)
        requests = [
            r if r.function else r._replace(function=bytecode.function_for(r.type, t.labels))
            for r, t in zip(requests, ptypes, strict=True)
        ]
        bytecode.require(r.function for r in requests)
        for req, ptype in zip(requests, ptypes, strict=True):
            labelled = bytecode.programs.get(req.function)
            known = self.plugins.types.get(labelled) if labelled else None
            if known is not None and known.kernel_type != ptype.kernel_type:
                raise InvalidInputError(
                    f"{req.function} is a {labelled} program (image label io.ebpf.programs), "
                    f"not {req.type}"
                )
        source = {"image_url": url, "pull_policy": policy.value, "digest": bytecode.digest}
        return self._load(
            lambda: kernel.BpfObject.open_bytes(bytecode.data, url.rsplit("/", 1)[-1]),
            source,
            requests,
            globals,
            metadata,
            map_owner_id,
        )

    def _program_types(self, requests: list[ProgramRequest]) -> list[ProgramType]:
        ptypes = []
        for req in requests:
            ptype = self.plugins.program_type(req.type)
            if ptype.needs_attach_func and not req.attach_func:
                raise InvalidInputError(
                    f"{req.type} programs need the attach function: "
                    f"--programs {req.type}:{req.function}:<ATTACH_FUNC>"
                )
            takes = ptype.needs_attach_func or ptype.optional_attach_func
            if not takes and req.attach_func:
                raise InvalidInputError(
                    f"{req.type} programs take no attach function: use {req.type}:{req.function}"
                )
            ptypes.append(ptype)
        return ptypes

    def _load(
        self,
        open_object: Callable[[], kernel.BpfObject],
        source: dict[str, str],
        programs: Sequence[ProgramRequest | str],
        globals: Mapping[str, bytes] | None,
        metadata: Mapping[str, str] | None,
        map_owner_id: int | None,
    ) -> list[ProgramRecord]:
        requests = program_requests(programs)
        unnamed = [req.type for req in requests if not req.function]
        if unnamed:
            raise InvalidInputError(
                f"no function named for the {unnamed[0]} program: give the function to load"
                " (only an image's program is found by its label)"
            )
        ptypes = self._program_types(requests)
        values = checked_globals(globals)
        tags = checked_metadata(metadata)
        where = source.get("path") or source.get("image_url")
        try:
            obj = open_object()
        except KernelError as exc:
            if exc.errno in FD_ERRNOS:
                raise fd_error(f"open {where}", exc.errno) from exc
            raise InvalidInputError(f"{where}: not a valid BPF object ({exc})") from exc
        with obj:
            _check_sections(obj, requests, ptypes)
            with self._mutation("load") as op:
                owner = self._managed(op.txn, map_owner_id) if map_owner_id is not None else None
                return self._load_object(op, obj, requests, ptypes, source, owner, values, tags)

    def _load_object(
        self,
        op: Operation,
        obj: kernel.BpfObject,
        requests: list[ProgramRequest],
        ptypes: list[ProgramType],
        source: dict[str, str],
        owner: ProgramRecord | None,
        globals: dict[str, bytes],
        metadata: dict[str, str],
    ) -> list[ProgramRecord]:
        from .context import LoadContext

        sections = {spec.name: spec.section for spec in obj.programs()}
        obj.select(req.function for req in requests)
        contexts = []
        for req, ptype in zip(requests, ptypes, strict=True):
            obj.set_type(req.function, ptype.kernel_type, ptype.expected_attach_type)
            ctx = LoadContext(
                req.type,
                req.function,
                sections[req.function],
                req.attach_func,
                obj,
                ptype.kernel_type,
            )
            ptype.handler.prepare_load(ctx)
            contexts.append(ctx)
        for name, value in globals.items():
            obj.set_global(name, value)
        shared = [m.name for m in obj.maps() if not m.internal]
        # The maps live where the owner's live, even if the owner shares another's.
        # Its record may be an older version's (a relative path): acted on confined,
        # kept as written, so the directory's users stay one set.
        owner_dir = self.layout.confine(owner.map_pin_path) if owner else None
        if owner_dir is not None:
            for name in shared:
                pinned = owner_dir / name
                if is_pinned(pinned):
                    with kernel.obj_get(str(pinned)) as reused:  # libbpf keeps a dup
                        obj.reuse_map(name, reused.fd)
        where = f"load {source.get('path') or source.get('image_url')}"
        # libbpf holds an fd per map and program; the margin is its feature probes'
        # and Python's own (an import). Short of them, libbpf misreads the kernel.
        require_fds(len(obj.maps()) + len(requests) + 2, where)
        try:
            obj.load()
        except KernelError as exc:
            if exc.errno in FD_ERRNOS:
                raise fd_error(where, exc.errno) from exc
            raise

        fds = [obj.program_fd(req.function) for req in requests]
        ids = [kernel.prog_info(fd).id for fd in fds]
        map_dir = owner_dir or self.layout.map_dir(ids[0])
        new_maps = [name for name in shared if not is_pinned(map_dir / name)]
        made = [Resource.pin(map_dir / n) for n in new_maps] if owner else [Resource.tree(map_dir)]
        op.intend(*(Resource.pin(self.layout.prog_pin(i)) for i in ids), *made)
        if owner is None:
            os.mkdir(map_dir, 0o700)
        for name in new_maps:
            kernel.obj_pin(obj.map_fd(name), str(map_dir / name))
        records = []
        for req, ctx, fd, prog_id in zip(requests, contexts, fds, ids, strict=True):
            pin = self.layout.prog_pin(prog_id)
            kernel.obj_pin(fd, str(pin))
            record = ProgramRecord(
                id=prog_id,
                name=req.function,
                type=req.type,
                # Records keep the kernel type the bpfman type stands for (filters
                # use it), even where a plugin loaded the program as another (ext);
                # a type serving a family (cgroup) names its member (ctx.set_type).
                kernel_type=ctx.kernel_type,
                source=dict(source),
                pin=str(pin),
                map_pin_path=owner.map_pin_path if owner else str(map_dir),
                globals={k: shown_hex(v) for k, v in globals.items()},
                metadata=dict(metadata),
                plugin_data=ctx.data,
                rows=ctx.rows,
            )
            if owner is not None or prog_id != ids[0]:
                record.map_owner_id = int(map_dir.name)
            op.txn.put_program(record)
            records.append(record)
        return records

    # -- attach / detach ----------------------------------------------------
    def attach(
        self,
        program_id: int,
        params: AttachParams | Mapping[str, object],
        *,
        metadata: Mapping[str, str] | None = None,
    ) -> LinkRecord:
        """Attach a loaded program; ``params`` are its type's attach options.

        The type comes from the program's record. ``params`` is the type's
        :class:`~bpfman.core.contract.AttachParams` (e.g. ``XdpParams``) or a
        mapping of its option names, checked exactly as the CLI checks them.
        """
        require_privilege()
        tags = checked_metadata(metadata)
        with self._read() as snapshot:
            program = None if snapshot is None else snapshot.get_program(program_id)
        if program is None:
            raise _unmanaged(program_id)
        ptype = self.plugins.program_type(program.type)
        handler = ptype.handler
        typed = self._typed_params(ptype, program, params)
        typed = handler.resolve(typed, program)  # file lookups happen outside the lock
        with self._mutation("attach") as op:
            program = self._managed(op.txn, program_id)
            from .context import AttachContext

            seq = op.txn.next_seq()
            ctx = AttachContext(self._scope(op), program, op.txn.new_link_id(), seq)
            try:
                recorded = handler.attach(ctx, typed)
            except KernelError as exc:
                if exc.errno == errno.EEXIST:
                    where = handler.describe(typed.to_record()).attachment
                    raise ConflictError(
                        f"program {program_id} is already attached to {program.type} {where}"
                    ) from exc
                raise
            view = handler.describe(recorded)
            inherited = {APPLICATION_KEY: program.application} if program.application else {}
            link = LinkRecord(
                id=ctx.link_id,
                program_id=program.id,
                type=program.type,
                params=recorded,
                seq=seq,
                pin=str(ctx.link_pin) if ctx.pinned else None,
                hook=ctx.hook,
                priority=ctx.priority,
                metadata={**inherited, **tags},
                attachment=view.attachment,
                rows=[[label, value] for label, value in view.rows],
                anchor=ctx.anchor,
            )
            op.txn.put_link(link)
        return link

    def _typed_params(
        self,
        ptype: ProgramType,
        program: ProgramRecord,
        params: AttachParams | Mapping[str, object],
    ) -> AttachParams:
        wanted = ptype.params
        if isinstance(params, Mapping):
            return wanted.from_mapping(params)
        if type(params) is not wanted:
            given = params.type_name or type(params).__name__
            raise InvalidInputError(
                f"program {program.id} is a {program.type} program, not {given}: "
                f"use `bpfman attach {program.id} {program.type} ...`"
            )
        return params

    def detach(self, link_id: int) -> None:
        """Detach one link; its program stays loaded."""
        with self._mutation("detach") as op:
            link = op.txn.get_link(link_id)
            if link is None:
                raise NotFoundError(f"no link with id {link_id}")
            program = op.txn.get_program(link.program_id)
            if program is None:
                raise NotFoundError(f"link {link_id} belongs to no loaded program")
            self._detach(op, program, link)

    def _detach(self, op: Operation, program: ProgramRecord, link: LinkRecord) -> None:
        from .recovery import detach_link

        detach_link(self._scope(op), self.plugins, program, link)

    def unload(self, program_id: int) -> None:
        """Detach every link of the program, then unload it.

        Each detach commits on its own: a link whose detach fails stays
        recorded (and attached), while those already gone are not claimed.
        When it returns, the program is gone from the kernel as well
        (:func:`_wait_until_freed`).
        """
        while True:
            with self._mutation("unload") as op:
                program = self._managed(op.txn, program_id)
                links = op.txn.links_of(program_id)
                if links:
                    self._detach(op, program, links[0])
                    continue
                # Confined before anything changes: a record pointing elsewhere stays.
                retired = [self._confined(Resource.pin(program.pin))]
                op.txn.delete_program(program)
                if not op.txn.map_users(program.map_pin_path):
                    retired.append(self._confined(Resource.tree(program.map_pin_path)))
                op.retire(*retired)
            break
        _wait_until_freed(program_id)

    # -- recovery -------------------------------------------------------------
    def recover(self, mode: str | None = None) -> list[str]:
        """``bpfman system recover``: replay, reconcile, or rebuild a lost store.

        :param mode: None to recover a healthy store; ``"adopt"`` or
            ``"remove"`` to rebuild a lost or corrupt one from the pins.
        :returns: one line per action taken.
        """
        from .rebuild import recover

        require_privilege()
        prepare_root(self.layout)
        with self.store.locked(timeout=self.lock_timeout):
            mount_bpffs(self.layout)
            return recover(self, self._release, mode)

    # -- queries ------------------------------------------------------------
    list_programs = _asked(Queries.programs, "list_programs")
    list_links = _asked(Queries.links, "list_links")

    def program_records(self) -> list[ProgramRecord]:
        """Every program bpfman recorded, read in one snapshot (the service's List)."""
        with self._read() as txn:
            return [] if txn is None else txn.programs()

    def get_program(self, program_id: int) -> ProgramDetails:
        record: ProgramRecord | None = None
        links: list[LinkDetails] = []
        used_by: list[int] = []
        with self._read() as txn:
            if txn is not None:
                record = txn.get_program(program_id)
                if record is not None:
                    found = txn.links_of(program_id)
                    if found:  # else a fresh load: the liveness checks stay unimported
                        queries = self._queries()
                        alive = queries.liveness(txn)
                        links = [queries.describe(alive, link, record) for link in found]
                    used_by = txn.map_users(record.map_pin_path)
        info: kernel.ProgInfo | None = None
        try:
            with kernel.prog_fd_by_id(program_id) as fd:
                # The name bpfman recorded is whole: BTF is read for the others' alone.
                info = kernel.prog_info(fd.fd, full_name=record is None)
        except NotFoundError:
            if record is None:
                raise NotFoundError(f"no program with id {program_id}") from None
        if info is not None and record is not None and record.name.startswith(info.name):
            info = info._replace(name=record.name)
        return ProgramDetails(program_id, record, links, used_by, info)

    def get_link(self, link_id: int) -> LinkDetails:
        with self._read() as txn:
            if txn is not None:
                link = txn.get_link(link_id)
                if link is not None:
                    program = txn.get_program(link.program_id)
                    if program is not None:
                        queries = self._queries()
                        return queries.describe(queries.liveness(txn), link, program)
        raise NotFoundError(f"no link with id {link_id}")

    def _queries(self) -> Queries:
        return Queries(self._read, lambda: self.plugins, str(self.layout.links))

    # -- declared state (bpfman.declare) ---------------------------------------
    def save(self) -> Declaration:
        """What bpfman runs, as a declaration (``bpfman system save``); ``.dumps()`` is its TOML."""
        from bpfman.declare import save

        return save(self)

    def apply(
        self,
        *declarations: Declaration | str | os.PathLike[str],
        check: bool = False,
        prune: bool = False,
    ) -> Applied:
        """Make the host match declarations (files, folders of ``*.toml``, or objects).

        All or nothing; ``check`` only plans, ``prune`` also unloads managed
        programs the declarations do not name (``bpfman system apply``).
        """
        from bpfman.declare import apply

        return apply(self, declarations, check_only=check, prune=prune)


def _wait_until_freed(program_id: int) -> None:
    """Wait, bounded, until the kernel has let an unloaded program go.

    It frees a program after an RCU grace period, and after its links'
    deferred release, which can take a second or two on a busy host: without
    the wait, ``get program`` right after ``unload`` still found it. Past the
    bound, some other process holds the program, and it is theirs to free.
    """
    deadline = time.monotonic() + UNLOAD_WAIT
    while time.monotonic() < deadline:
        try:
            kernel.prog_fd_by_id(program_id).close()
        except NotFoundError:
            return
        time.sleep(0.002)
    log.debug(
        "program %d is still in the kernel after its unload: another process holds it", program_id
    )


def _unmanaged(program_id: int) -> NotFoundError:
    """The error for an id bpfman has no record of: unknown, or someone else's."""
    try:
        kernel.prog_fd_by_id(program_id).close()
    except NotFoundError:
        return NotFoundError(f"no program with id {program_id}")
    return NotManagedError(f"program {program_id} is not managed by bpfman")


def _require_regular_file(location: str, given: str | os.PathLike[str]) -> None:
    """Refuse bytecode that is missing or not a regular file (never opened: a FIFO blocks)."""
    try:
        mode = os.stat(location).st_mode
    except (FileNotFoundError, NotADirectoryError):
        raise NotFoundError(f"bytecode file {given} not found") from None
    except OSError as exc:
        raise InvalidInputError(f"bytecode file {given}: {exc.strerror}") from None
    if not stat.S_ISREG(mode):
        kinds = {
            stat.S_IFDIR: "a directory",
            stat.S_IFCHR: "a character device",
            stat.S_IFBLK: "a block device",
            stat.S_IFIFO: "a FIFO",
            stat.S_IFSOCK: "a socket",
        }
        kind = kinds.get(stat.S_IFMT(mode), "of an unknown kind")
        raise InvalidInputError(f"bytecode file {given} is not a regular file: it is {kind}")


def _check_sections(
    obj: kernel.BpfObject, requests: list[ProgramRequest], ptypes: list[ProgramType]
) -> None:
    """Refuse a type the program's ELF section contradicts (before the verifier does)."""
    specs = {spec.name: spec for spec in obj.programs()}
    for req, ptype in zip(requests, ptypes, strict=True):
        spec = specs.get(req.function)
        if spec is None or not spec.kernel_type or spec.kernel_type == ptype.kernel_type:
            continue
        if ptype.matches_section(spec.section):
            continue
        implied = kernel.prog_type_name(spec.kernel_type)
        article = "an" if implied[:1] in "aeiox" else "a"
        raise InvalidInputError(
            f"{req.function} is {article} {implied} program (section `{spec.section}`), "
            f"not {req.type}"
        )


__all__ = ["Bpfman", "LinkDetails", "LostStateError", "ProgramDetails", "ProgramSummary"]
