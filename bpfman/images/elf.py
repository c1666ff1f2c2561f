"""The few ELF header checks bytecode must pass before it is packed or loaded."""

from __future__ import annotations

import sys
from typing import Literal

from bpfman.errors import ImageError

_EM_BPF = 247
ByteOrder = Literal["little", "big"]
_ORDER: dict[int, ByteOrder] = {1: "little", 2: "big"}


def bpf_byteorder(data: bytes, source: str) -> ByteOrder:
    """``"little"`` or ``"big"``: the byte order of a BPF ELF object; anything else fails."""
    if len(data) < 20 or data[:4] != b"\x7fELF":
        raise ImageError(f"{source}: bytecode is not an ELF object")
    order = _ORDER.get(data[5])
    if order is None:
        raise ImageError(f"{source}: bytecode has an invalid ELF data encoding")
    machine = int.from_bytes(data[18:20], order)
    if machine != _EM_BPF:
        raise ImageError(f"{source}: ELF object is not BPF bytecode (e_machine {machine})")
    return order


def check_bytecode(data: bytes, source: str) -> None:
    """Refuse anything but a BPF ELF object of the host's byte order.

    A big-endian object would load into a little-endian kernel as garbage,
    so the mismatch is named instead of left to the verifier.
    """
    order = bpf_byteorder(data, source)
    if order != sys.byteorder:
        raise ImageError(
            f"{source}: bytecode is {order}-endian but this host is {sys.byteorder}-endian;"
            " use the image built for this architecture"
        )
