"""The two dispatcher flavours: their objects, config layouts and verdict names."""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import Literal, get_args

MAX_PROGRAMS = 10
# The compiled dispatchers ship as package data (built from bpf/dispatchers/).
OBJECTS = files("bpfman.dispatcher") / "objects"

XDP_MAGIC = 236
XDP_VERSION = 2

#: The proceed-on names of each flavour, in verdict order (typed, so a type
#: checker catches a misspelt one in the library's calls).
XdpProceedOn = Literal["aborted", "drop", "pass", "tx", "redirect", "dispatcher_return"]
TcProceedOn = Literal[
    "unspec", "ok", "reclassify", "shot", "pipe", "stolen", "queued", "repeat", "redirect",
    "trap", "dispatcher_return",
]  # fmt: skip


@dataclass(frozen=True)
class Slot:
    """One enabled slot of a revision: its chain-call mask and priority."""

    mask: int
    priority: int


@dataclass(frozen=True)
class Flavour:
    """What differs between the XDP and TC dispatchers.

    :param bit_offset: bit ``r + bit_offset`` of a mask lets verdict ``r`` go
        on (TC verdicts start at -1, TC_ACT_UNSPEC).
    :param actions: proceed-on names and the verdicts they stand for.
    :param header: the config's leading bytes for a number of enabled slots.
    :param program_flags: the config ends with a per-slot flags array (libxdp).
    :param enabled_at: the header byte holding the number of enabled slots.
    """

    name: str
    bit_offset: int
    actions: dict[str, int]
    default_proceed_on: tuple[str, ...]
    pass_verdict: int
    header: Callable[[int], bytes]
    program_flags: bool
    enabled_at: int

    @property
    def function(self) -> str:
        """The dispatcher's function; its object is named after it (bpf/dispatchers/)."""
        return f"{self.name}_dispatcher"

    @property
    def retval(self) -> int:
        """What a stub returns while no program replaces it: the dispatcher_return verdict."""
        return self.actions["dispatcher_return"]

    @property
    def object(self) -> Traversable:
        """The shipped dispatcher object, as package data."""
        return OBJECTS / f"{self.function}.o"

    def config(self, slots: list[Slot]) -> bytes:
        """The packed value of the dispatcher's ``conf`` global for ``slots``."""
        if len(slots) > MAX_PROGRAMS:
            raise ValueError(f"a dispatcher has {MAX_PROGRAMS} slots, got {len(slots)}")
        pad = [0] * (MAX_PROGRAMS - len(slots))
        masks = [s.mask for s in slots] + pad
        prios = [s.priority for s in slots] + pad
        arrays = masks + prios + ([0] * MAX_PROGRAMS if self.program_flags else [])
        return self.header(len(slots)) + struct.pack(f"<{len(arrays)}I", *arrays)

    def parse_config(self, data: bytes) -> list[Slot]:
        """The enabled slots of a loaded dispatcher's config (what :meth:`config` wrote)."""
        enabled = data[self.enabled_at]
        masks = struct.unpack_from(f"<{MAX_PROGRAMS}I", data, 4)
        prios = struct.unpack_from(f"<{MAX_PROGRAMS}I", data, 4 + 4 * MAX_PROGRAMS)
        return [Slot(masks[i], prios[i]) for i in range(min(enabled, MAX_PROGRAMS))]


XDP = Flavour(
    name="xdp",
    bit_offset=0,
    actions=dict(zip(get_args(XdpProceedOn), (0, 1, 2, 3, 4, 31), strict=True)),
    default_proceed_on=("pass", "dispatcher_return"),
    pass_verdict=2,
    header=lambda enabled: struct.pack("<BBBB", XDP_MAGIC, XDP_VERSION, enabled, 0),
    program_flags=True,
    enabled_at=2,
)

TC = Flavour(
    name="tc",
    bit_offset=1,
    actions=dict(zip(get_args(TcProceedOn), (-1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 30), strict=True)),
    default_proceed_on=("ok", "pipe", "dispatcher_return"),
    pass_verdict=0,
    header=lambda enabled: struct.pack("<B3x", enabled),
    program_flags=False,
    enabled_at=0,
)
