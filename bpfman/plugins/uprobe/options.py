"""The uprobe type's attach options, and what resolving them finds."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from bpfman.plugin import AttachParams, InvalidInputError, option, resolved, validate


@dataclass(frozen=True)
class UprobeParams(AttachParams):
    type_name: ClassVar[str] = "uprobe"
    # The reference CLI's order; the target comes first among the fields as it is required.
    cli_order: ClassVar[tuple[str, ...]] = ("fn_name", "offset", "target", "pid", "container_pid")
    target: str = field(
        metadata=option(
            "Required: Library name or the absolute path to a binary or library.\n"
            'Example: --target "libc".',
            short="-t",
        )
    )
    fn_name: str | None = field(
        default=None, metadata=option("Optional: Function to attach the uprobe to.", short="-f")
    )
    offset: int = field(
        default=0,
        metadata=option(
            "Optional: Offset added to the address of the target function (or\n"
            "beginning of target if no function is identified). Offsets are\n"
            "supported for uretprobes, but use with caution because they can\n"
            "result in unintended side effects.",
            short="-o",
            range=validate.U64_RANGE,
        ),
    )
    pid: int | None = field(
        default=None,
        metadata=option(
            "Optional: Only execute uprobe for given process identification number (PID).\n"
            "If PID is not provided, uprobe executes for all PIDs.",
            short="-p",
        ),
    )
    container_pid: int | None = field(
        default=None,
        metadata=option("Optional: Host PID of container to attach the uprobe in.", short="-c"),
    )
    # Filled by the handler's resolve step, before the writers' lock is taken.
    path: str = resolved("")
    file_offset: int = resolved(0)

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.target:
            raise InvalidInputError("uprobe: the target is empty")
        validate.text("uprobe: target", self.target)
        if self.fn_name is not None:
            validate.text("uprobe: function name", self.fn_name)
        validate.positive("uprobe", "pid", self.pid)
        validate.positive("uprobe", "container pid", self.container_pid)
