"""The cgroup type's attach options."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from bpfman.plugin import AttachParams, option, priority_option, validate

#: Without -p a link runs after every link given a priority.
DEFAULT_PRIORITY = 1000


@dataclass(frozen=True)
class CgroupParams(AttachParams):
    type_name: ClassVar[str] = "cgroup"
    cgroup_path: str = field(
        metadata=option(
            "Required: The cgroup v2 directory to attach to.\n"
            "Example: --cgroup-path /sys/fs/cgroup/my-service",
            short="-c",
        )
    )
    priority: int = field(default=DEFAULT_PRIORITY, metadata=priority_option(required=False))

    def __post_init__(self) -> None:
        super().__post_init__()
        validate.path("cgroup", "cgroup path", self.cgroup_path)
