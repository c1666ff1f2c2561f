"""The kprobe type's attach options."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from bpfman.plugin import AttachParams, UnsupportedError, validate


@dataclass(frozen=True)
class KprobeParams(AttachParams):
    type_name: ClassVar[str] = "kprobe"
    fn_name: str
    offset: int = 0
    container_pid: int | None = None

    def __post_init__(self) -> None:
        validate.text("kprobe: function name", self.fn_name)
        validate.u64("kprobe", "offset", self.offset)
        if self.container_pid is not None:
            raise UnsupportedError(
                "kprobe: --container-pid is not supported; kprobes are system-wide"
            )
