"""The cgroup type's attach options."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from bpfman.plugin import AttachParams, validate

#: Without -p a link runs after every link given a priority.
DEFAULT_PRIORITY = 1000


@dataclass(frozen=True)
class CgroupParams(AttachParams):
    type_name: ClassVar[str] = "cgroup"
    cgroup_path: str
    priority: int = DEFAULT_PRIORITY

    def __post_init__(self) -> None:
        validate.path("cgroup", "cgroup path", self.cgroup_path)
        validate.priority("cgroup", self.priority)
