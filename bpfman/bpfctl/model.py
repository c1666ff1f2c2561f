"""What bpfctl asks of a backend and what it gets back, free of click and gRPC.

Both backends speak these types, so the commands and the output never know
whether the service or the core in this process answered.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from bpfman.kernel.info import ProgInfo

# The types the guide's load commands attach; each is the bpfman type of that name.
HOOK_TYPES = ("xdp", "tc", "tracepoint", "kprobe", "uprobe")
# What a return probe of each probe type is called (sections, image labels, the guide).
RETPROBE_LABELS = {"kprobe": "kretprobe", "uprobe": "uretprobe"}


@dataclass(frozen=True)
class FileSource:
    path: str  # absolute: the service resolves it, not this process's directory


@dataclass(frozen=True)
class ImageSource:
    url: str
    pull_policy: str = "IfNotPresent"
    registry_auth: str | None = None


@dataclass(frozen=True)
class Load:
    """One program to load.

    :param name: the function; empty for an image means the image's own
        program of the hook's type (its ``io.ebpf.programs`` label), which the
        core finds (:meth:`bpfman.images.store.Bytecode.function_for`).
    """

    source: FileSource | ImageSource
    name: str
    globals: dict[str, bytes] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)
    map_owner_id: int | None = None


@dataclass(frozen=True)
class Hook:
    """Where the loaded program goes.

    :param type: one of :data:`HOOK_TYPES`.
    :param params: the type's attach options under bpfman's names (``iface``,
        ``priority``, ``proceed_on``, ``fn_name``...), as ``bpfman attach`` takes them.
    :param retprobe: for kprobe and uprobe, whether ``-r`` was given; None otherwise.
    """

    type: str
    params: dict[str, Any]
    retprobe: bool | None = None


@dataclass(frozen=True)
class Loaded:
    """A program a backend loaded: its id, its function (an image's label may have
    named it) and, if known, whether its ELF section makes it a return probe."""

    id: int
    name: str
    retprobe: bool | None = None


class ListRow(NamedTuple):
    id: int
    name: str
    type: str  # the kernel program type, as the guide names it (xdp, tc, probe...)
    loaded_at: str


@dataclass(frozen=True)
class LinkFacts:
    """One attachment; ``params`` is None where the backend cannot see them.

    ``attachment`` is bpfman's one-line description (``veth0 pos-0``), shown
    for types the guide does not know.
    """

    id: int
    type: str = ""
    params: Mapping[str, Any] | None = None
    position: int | None = None
    attachment: str = ""


@dataclass(frozen=True)
class BpfdFacts:
    """bpfman's record of a program it loaded (the guide's "Bpfd State")."""

    name: str
    source: list[tuple[str, str]]  # ("Path", p) or ("Image URL", u), ("Pull Policy", p)
    globals: list[str]
    metadata: list[str]
    map_pin_path: str
    map_owner_id: int | None
    map_used_by: list[int]
    links: list[LinkFacts]


@dataclass(frozen=True)
class Shown:
    """What ``get`` shows: bpfman's record (None: not loaded by bpfman) and the kernel's
    (its type as bpfman recorded it; no run statistics, which bpfman.v1 does not carry)."""

    bpfd: BpfdFacts | None
    kernel: ProgInfo | None


def pairs(mapping: Mapping[str, str]) -> list[str]:
    return [f"{key}={value}" for key, value in mapping.items()]


def global_pairs(values: Mapping[str, bytes]) -> list[str]:
    """Globals as both backends show them: by name, in lowercase hex (bpfman.v1 carries
    their bytes, not the text a user wrote)."""
    return [f"{name}={value.hex()}" for name, value in sorted(values.items())]


def retprobe_of(plugin_data: Mapping[str, Any]) -> bool | None:
    """Whether a loaded kprobe or uprobe is a return probe, as its plugin recorded it
    from the ELF section; None where nothing says."""
    value = plugin_data.get("retprobe")
    return None if value is None else bool(value)
