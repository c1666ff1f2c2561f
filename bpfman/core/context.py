"""What the core hands to plugins, and what plugins hand back.

A plugin never writes state or chooses pin paths itself: it gets a narrow
context that exposes the program, the parameters, where to pin, the sibling
links on a shared hook, a plugin-private record space and an undo list.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bpfman import kernel

from .bpffs import Layout
from .model import LinkRecord, ProgramRecord
from .state import Txn


@dataclass(frozen=True)
class ProgramType:
    """A bpfman program type as a plugin declares it.

    :param name: the type name users pass in ``--programs`` and ``attach``.
    :param kernel_type: the kernel's BPF_PROG_TYPE_* number.
    :param expected_attach_type: BPF_* attach type set at load, if any.
    :param needs_attach_func: ``TYPE:FUNC:ATTACH_FUNC`` is required at load.
    :param section_prefixes: ELF section prefixes that mean this type, used
        to infer types from object files (``image generate-build-args``).
    """

    name: str
    kernel_type: int
    expected_attach_type: int | None = None
    needs_attach_func: bool = False
    section_prefixes: tuple[str, ...] = ()
    plugin: str = ""


@dataclass
class LinkView:
    """How a link reads in ``list links`` (attachment) and ``get link`` (rows)."""

    attachment: str
    rows: list[tuple[str, str]]
    data: dict[str, Any] = field(default_factory=dict)


class _Context:
    def __init__(self, txn: Txn, layout: Layout, program: ProgramRecord) -> None:
        self.txn = txn
        self.layout = layout
        self.program = program
        self._undo: list[Callable[[], None]] = []

    def program_fd(self) -> kernel.Fd:
        """A fresh fd of the pinned program; the caller closes it."""
        return kernel.obj_get(self.program.pin)

    def hook_links(self, hook: str) -> list[LinkRecord]:
        """Links already recorded on ``hook``, in run order."""
        return self.txn.links_on_hook(hook)

    def plugin_dir(self, name: str) -> Path:
        path = self.layout.plugin_dir(name)
        path.mkdir(parents=True, exist_ok=True)
        return path

    def plugin_get(self, namespace: str, key: str) -> Any:
        return self.txn.plugin_get(namespace, key)

    def plugin_put(self, namespace: str, key: str, value: Any) -> None:
        self.txn.plugin_put(namespace, key, value)

    def plugin_delete(self, namespace: str, key: str) -> None:
        self.txn.plugin_delete(namespace, key)

    def on_rollback(self, undo: Callable[[], None]) -> None:
        """Run ``undo`` if the operation fails after this point."""
        self._undo.append(undo)

    def after_commit(self, cleanup: Callable[[], None]) -> None:
        """Run ``cleanup`` once the state change is committed (e.g. drop an
        old revision), never if the operation fails."""
        self.txn.after_commit.append(cleanup)

    def rollback(self) -> None:
        while self._undo:
            undo = self._undo.pop()
            try:
                undo()
            except Exception:
                continue


class AttachContext(_Context):
    """One attach request: the program, its parameters and where to pin."""

    def __init__(
        self,
        txn: Txn,
        layout: Layout,
        program: ProgramRecord,
        params: dict[str, Any],
        link_id: int,
        seq: int,
    ) -> None:
        super().__init__(txn, layout, program)
        self.params = params
        self.link_id = link_id
        self.seq = seq
        self.link_pin = layout.link_pin(link_id)
        self.pinned = False
        self.hook: str | None = None
        self.priority: int | None = None

    def pin_link(self, link_fd: int | kernel.Fd) -> None:
        """Pin the new kernel link at :attr:`link_pin`; undone on failure."""
        self.link_pin.parent.mkdir(parents=True, exist_ok=True)
        kernel.obj_pin(int(link_fd), str(self.link_pin))
        self.pinned = True
        self.on_rollback(lambda: self.link_pin.unlink(missing_ok=True))

    def pending_link(self, params: dict[str, Any]) -> LinkRecord:
        """The record this attach will create, for plugins ordering a hook."""
        return LinkRecord(
            id=self.link_id,
            program_id=self.program.id,
            type=self.program.type,
            params=params,
            seq=self.seq,
            pin=str(self.link_pin) if self.pinned else None,
            hook=self.hook,
            priority=self.priority,
        )


class DetachContext(_Context):
    """One link being removed (by ``detach`` or by ``unload``)."""

    def __init__(self, txn: Txn, layout: Layout, program: ProgramRecord, link: LinkRecord) -> None:
        super().__init__(txn, layout, program)
        self.link = link
