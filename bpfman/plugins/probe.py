"""What the kprobe and uprobe plugins share: a retprobe is a probe whose
program sits in a ``k/uretprobe`` section, recorded at load time."""

from __future__ import annotations

from typing import Any, ClassVar

from bpfman.core.typeplugin import TypePlugin
from bpfman.kernel import BpfObject


class ProbePlugin(TypePlugin):
    retprobe_prefix: ClassVar[str]

    def prepare_load(
        self, program_type: str, function: str, section: str, obj: BpfObject
    ) -> dict[str, Any]:
        return {"retprobe": section.startswith(self.retprobe_prefix)}


def shown(value: Any) -> str:
    """A ``get link`` value: None when unset."""
    return "None" if value is None else str(value)
