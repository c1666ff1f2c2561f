"""The dispatcher engine shared by the xdp and tc plugins.

Several programs share one XDP or TC hook through a *dispatcher*: a small
BPF program (``bpfman/dispatcher/objects/*.o``, built from ``bpf/dispatchers/``)
whose ten stub functions are replaced by the user's programs with freplace.
This package knows the config layouts, the proceed-on masks, how to probe
for freplace and how to build, swap and drop dispatcher revisions; the
plugins only supply how a revision is hooked to an interface.
"""

from bpfman.dispatcher.flavours import TC, XDP, Flavour, TcProceedOn, XdpProceedOn
from bpfman.dispatcher.proceed_on import proceed_on_mask, proceed_on_option

__all__ = [
    "TC",
    "XDP",
    "Flavour",
    "TcProceedOn",
    "XdpProceedOn",
    "proceed_on_mask",
    "proceed_on_option",
]
