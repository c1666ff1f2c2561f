"""The kprobe type's attach options."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from bpfman.plugin import AttachParams, UnsupportedError, option, validate


@dataclass(frozen=True)
class KprobeParams(AttachParams):
    type_name: ClassVar[str] = "kprobe"
    fn_name: str = field(metadata=option("Required: Function to attach the kprobe to.", short="-f"))
    offset: int = field(
        default=0,
        metadata=option(
            "Optional: Offset added to the address of the function for kprobe.\n"
            "Not allowed for kretprobes.",
            short="-o",
            range=validate.U64_RANGE,
        ),
    )
    container_pid: int | None = field(
        default=None,
        metadata=option(
            "Optional: Host PID of container to attach the kprobe in.\n(NOT CURRENTLY SUPPORTED)",
            short="-c",
        ),
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        validate.text("kprobe: function name", self.fn_name)
        if self.container_pid is not None:
            raise UnsupportedError(
                "kprobe: --container-pid is not supported; kprobes are system-wide"
            )
