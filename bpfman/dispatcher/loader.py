"""Loading dispatcher revisions, and probing whether freplace works here."""

from __future__ import annotations

import os

from bpfman import kernel
from bpfman.errors import KernelError
from bpfman.kernel.features import Feature, Support

from .flavours import XDP, Flavour, Slot

CONFIG_GLOBAL = "conf"


def open_object(flavour: Flavour) -> kernel.BpfObject:
    """The flavour's dispatcher object, opened from the package data."""
    return kernel.BpfObject.open_bytes(flavour.object.read_bytes(), flavour.function)


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


def _probe_freplace() -> Support:
    """Load a dispatcher as an extension of another's stub, as a program is loaded."""
    try:
        with load_template(XDP) as target, open_object(XDP) as ext:
            ext.set_type(XDP.function, kernel.PROG_TYPE.EXT, 0)
            ext.set_attach_target(XDP.function, "prog0", target.program_fd(XDP.function))
            ext.load()
    except KernelError as exc:
        raise KernelError("load a BPF_PROG_TYPE_EXT program", exc.errno) from exc
    return Support(True)


#: Programs loaded as extensions of a dispatcher's stubs, each linked into a slot of
#: every revision (the same extension attached to several targets: Linux 5.10).
FREPLACE = Feature("freplace", (5, 10), _probe_freplace)


def freplace_support() -> Support:
    """Whether xdp and tc programs go through a dispatcher here (:data:`FREPLACE`).

    ``BPFMAN_FREPLACE=0`` forces the direct (one program per hook) mode; it is
    read on every call, since it is a setting and no answer of the kernel's.
    """
    if os.environ.get("BPFMAN_FREPLACE") == "0":
        return Support(False, "freplace disabled by BPFMAN_FREPLACE=0")
    return FREPLACE.check()
