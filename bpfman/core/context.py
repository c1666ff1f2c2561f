"""What the core hands to plugins: narrow contexts, one per operation.

A plugin never writes state or chooses pin paths itself. It reads the
program it works on, the links on a shared hook, its own records and its
config table; it declares the kernel objects it creates (``intend``) and
those to drop once the change is committed (``retire``). The core turns
those declarations into the intent journal, so a failure -- or a crash --
is undone exactly.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bpfman import kernel
from bpfman.errors import BpfmanError, NotFoundError
from bpfman.logs import get_logger

from .bpffs import Layout, private_dir
from .model import APPLICATION_KEY, LinkRecord, LinkView, ProgramRecord, Resource

if TYPE_CHECKING:
    from bpfman.config import Config

    from .journal import Operation

log = get_logger(__name__)


class LoadContext:
    """One ``TYPE:FUNC`` of a load request, before the object reaches the kernel.

    A plain class, as the other contexts: a dataclass compiled its methods on every load.
    """

    def __init__(
        self,
        program_type: str,
        function: str,
        section: str,
        attach_func: str | None,
        obj: kernel.BpfObject,
        kernel_type: int = 0,
    ) -> None:
        self.program_type = program_type
        self.function = function
        self.section = section
        self.attach_func = attach_func
        self.obj = obj
        self.kernel_type = kernel_type
        self.data: dict[str, Any] = {}
        self.rows: list[list[str]] = []

    def set_type(self, kernel_type: int, expected_attach_type: int | None = None) -> None:
        """Load the program as this kernel type (a bpfman type serving a family of
        kernel types picks one per program); the record keeps it for type filters."""
        self.obj.set_type(self.function, kernel_type, expected_attach_type)
        self.kernel_type = kernel_type

    def keep(self, key: str, value: Any) -> None:
        """Record ``value`` with the program (``ProgramRecord.plugin_data``)."""
        self.data[key] = value

    def show(self, label: str, value: str) -> None:
        """Add a row to the program's ``get program`` block."""
        self.rows.append([label, value])


class Scope:
    """What every context of one operation works within (a plain class: a NamedTuple
    compiles its annotations, written as strings here, at every load's import)."""

    __slots__ = ("config", "layout", "op")

    def __init__(self, op: Operation, layout: Layout, config: Config) -> None:
        self.op, self.layout, self.config = op, layout, config


class _OperationContext:
    """What attach, detach and recovery share: records, pins and the journal."""

    def __init__(self, scope: Scope) -> None:
        self._op, self._layout, self._config = scope.op, scope.layout, scope.config

    def hook_links(self, hook: str) -> list[LinkRecord]:
        """Links recorded on ``hook``, in run order."""
        return self._op.txn.links_on_hook(hook)

    def program_pin(self, program_id: int) -> str:
        """Where a loaded program is pinned."""
        record = self._op.txn.get_program(program_id)
        if record is None:
            raise NotFoundError(f"no program with id {program_id}")
        return record.pin

    def plugin_get(self, namespace: str, key: str) -> Any:
        return self._op.txn.plugin_get(namespace, key)

    def plugin_put(self, namespace: str, key: str, value: Any) -> None:
        self._op.txn.plugin_put(namespace, key, value)

    def plugin_delete(self, namespace: str, key: str) -> None:
        self._op.txn.plugin_delete(namespace, key)

    def plugin_items(self, namespace: str) -> list[tuple[str, Any]]:
        return self._op.txn.plugin_items(namespace)

    def plugin_dir(self, name: str) -> Path:
        """A private directory on bpfman's bpffs for the plugin's own pins."""
        path = self._layout.plugin_dir(name)
        private_dir(path)
        return path

    def config(self, table: str) -> dict[str, Any]:
        """The plugin's table of the configuration file (empty when absent)."""
        return self._config.table(table)

    @property
    def config_path(self) -> str:
        return str(self._config.path)

    def note(self, message: str) -> None:
        """Tell the user something they should know (a warning line on stderr)."""
        log.warning("%s", message)

    def intend(self, *resources: Resource) -> None:
        """Durably record objects about to be created; call before creating them."""
        self._op.intend(*resources)

    def retire(self, *resources: Resource) -> None:
        """Objects to release once the change is committed (never if it fails)."""
        self._op.retire(*resources)

    def forget_link(self, link: LinkRecord, why: str) -> None:
        """Drop the record of a link whose kernel object is gone."""
        self.note(f"link {link.id}: {why}; dropping its record")
        self._op.txn.delete_link(link)


class _ProgramContext(_OperationContext):
    """An operation on one program's links."""

    def __init__(self, scope: Scope, program: ProgramRecord) -> None:
        super().__init__(scope)
        self.program = program


class AttachContext(_ProgramContext):
    """One attach request: the program, the new link's id and where to pin it."""

    def __init__(self, scope: Scope, program: ProgramRecord, link_id: int, seq: int) -> None:
        super().__init__(scope, program)
        self.link_id = link_id
        self.seq = seq
        self.link_pin = scope.layout.link_pin(link_id)
        self.pinned = False
        self.hook: str | None = None
        self.priority: int | None = None
        # What else the link hangs on (bpfman.core.liveness: interface(), cgroup(),
        # process(), pins()), so that readers find it detached when that goes.
        self.anchor: dict[str, Any] = {}

    def program_fd(self) -> kernel.Fd:
        """A fresh fd of the pinned program; the caller closes it."""
        return kernel.obj_get(self.program.pin)

    def pin_link(self, link_fd: int | kernel.Fd) -> None:
        """Pin the new kernel link at :attr:`link_pin` (journaled, undone on failure)."""
        self.intend(Resource.pin(self.link_pin))
        kernel.obj_pin(int(link_fd), str(self.link_pin))
        self.pinned = True

    def pending_link(self) -> LinkRecord:
        """The record this attach will create, for plugins ordering a hook."""
        return LinkRecord(
            id=self.link_id,
            program_id=self.program.id,
            type=self.program.type,
            params={},
            seq=self.seq,
            pin=str(self.link_pin) if self.pinned else None,
            hook=self.hook,
            priority=self.priority,
        )


class DetachContext(_ProgramContext):
    """One link being removed (by ``detach`` or by ``unload``)."""

    def __init__(self, scope: Scope, program: ProgramRecord, link: LinkRecord) -> None:
        super().__init__(scope, program)
        self.link = link


class RecoverContext(_OperationContext):
    """Reconciling a plugin's records with the kernel, or adopting what bpffs holds."""

    def program(self, program_id: int) -> ProgramRecord | None:
        return self._op.txn.get_program(program_id)

    def pinned_programs(self) -> dict[int, str]:
        """Every recorded program's id and pin."""
        return {p.id: p.pin for p in self._op.txn.programs()}

    def pinned_program_ids(self) -> set[int]:
        """Ids of every program pinned anywhere on bpfman's bpffs, recorded or not."""
        ids = set()
        for dirpath, _, files in os.walk(self._layout.fs):
            for name in files:
                try:
                    with kernel.obj_get(os.path.join(dirpath, name)) as fd:
                        ids.add(kernel.prog_info(fd.fd).id)
                except BpfmanError:
                    continue  # a map or a link, not a program
        return ids

    def put_program(self, record: ProgramRecord) -> None:
        """Record an (adopted or corrected) program."""
        self._op.txn.put_program(record)

    def adopt_link(
        self,
        program: ProgramRecord,
        recorded: dict[str, Any],
        view: LinkView,
        hook: str | None = None,
        priority: int | None = None,
        anchor: dict[str, Any] | None = None,
    ) -> LinkRecord:
        """Record a link found in the kernel, under a new bpfman link id
        (``anchor`` as :attr:`AttachContext.anchor`)."""
        txn = self._op.txn
        link = LinkRecord(
            id=txn.new_link_id(),
            program_id=program.id,
            type=program.type,
            params=recorded,
            seq=txn.next_seq(),
            hook=hook,
            priority=priority,
            metadata={APPLICATION_KEY: program.application} if program.application else {},
            attachment=view.attachment,
            rows=[[label, value] for label, value in view.rows],
            anchor=anchor or {},
        )
        txn.put_link(link)
        return link

    def links(self, link_type: str) -> list[LinkRecord]:
        return [link for link in self._op.txn.links() if link.type == link_type]
