"""The uprobe type's attach options, and what resolving them finds."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from bpfman.plugin import AttachParams, InvalidInputError, resolved, validate


@dataclass(frozen=True)
class UprobeParams(AttachParams):
    type_name: ClassVar[str] = "uprobe"
    target: str
    fn_name: str | None = None
    offset: int = 0
    pid: int | None = None
    container_pid: int | None = None
    # Filled by the handler's resolve step, before the writers' lock is taken.
    path: str = resolved("")
    file_offset: int = resolved(0)

    def __post_init__(self) -> None:
        if not self.target:
            raise InvalidInputError("uprobe: the target is empty")
        validate.text("uprobe: target", self.target)
        if self.fn_name is not None:
            validate.text("uprobe: function name", self.fn_name)
        validate.u64("uprobe", "offset", self.offset)
        validate.positive("uprobe", "pid", self.pid)
        validate.positive("uprobe", "container pid", self.container_pid)
