"""Loading dispatcher revisions, and probing once whether freplace works here."""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass

from bpfman import kernel
from bpfman.errors import KernelError

from .flavours import XDP, Flavour, Slot

CONFIG_GLOBAL = "conf"


def open_object(flavour: Flavour) -> kernel.BpfObject:
    """The flavour's dispatcher object, opened from the package data."""
    return kernel.BpfObject.open_bytes(flavour.object.read_bytes(), flavour.object_name)


def load_template(flavour: Flavour) -> kernel.BpfObject:
    """A dispatcher whose stub ``prog0`` a program can be verified against.

    It has one slot enabled: since Linux 6.8 the verifier leaves out of the loaded
    program every global function that the frozen config makes unreachable, and a
    stub that is left out cannot be replaced ("Subprog prog0 doesn't exist").
    """
    return load_dispatcher(flavour, [Slot(0, 0)])


def load_dispatcher(flavour: Flavour, slots: list[Slot]) -> kernel.BpfObject:
    """A dispatcher loaded with its config frozen in; the caller closes it."""
    obj = open_object(flavour)
    try:
        obj.set_global(CONFIG_GLOBAL, flavour.config(slots))
        obj.load()
    except BaseException:
        obj.close()
        raise
    return obj


@dataclass(frozen=True)
class FreplaceSupport:
    """Whether this kernel loads BPF_PROG_TYPE_EXT programs, and if not, why."""

    supported: bool
    refusal: str = ""


@functools.cache
def freplace_support() -> FreplaceSupport:
    """Probe once per process by loading a dispatcher as an extension of another.

    ``BPFMAN_FREPLACE=0`` forces the direct (one program per hook) mode.
    """
    if os.environ.get("BPFMAN_FREPLACE") == "0":
        return FreplaceSupport(False, "freplace disabled by BPFMAN_FREPLACE=0")
    try:
        with load_template(XDP) as target, open_object(XDP) as ext:
            ext.set_type(XDP.function, kernel.PROG_TYPE.EXT, 0)
            ext.set_attach_target(XDP.function, "prog0", target.program_fd(XDP.function))
            ext.load()
    except KernelError as exc:
        return FreplaceSupport(
            False, f"the kernel refuses freplace (BPF_PROG_TYPE_EXT): {os.strerror(exc.errno)}"
        )
    return FreplaceSupport(True)
