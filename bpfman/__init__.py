"""bpfman: load, attach, order, inspect and remove eBPF programs.

The library API for tools that embed bpfman::

    import bpfman

    with bpfman.Bpfman() as manager:
        [prog] = manager.load_file("counter.bpf.o", ["tracepoint:count"])
        manager.attach(prog.id, {"tracepoint": "syscalls/sys_enter_getppid"})

Names resolve on first use, so ``import bpfman`` (and ``bpfman --help``)
pays nothing for the parts it does not touch.
"""

from __future__ import annotations

from bpfman.lazy import lazy_attributes

TYPE_CHECKING = False  # not typing's: importing it costs ``list`` a seventh of its time

#: The one place the version is written (pyproject.toml reads it from here).
__version__ = "0.2.0"

if TYPE_CHECKING:
    from bpfman.core.contract import AttachParams, LinkView
    from bpfman.core.filters import Selector
    from bpfman.core.manager import Bpfman
    from bpfman.core.model import (
        LinkDetails,
        LinkRecord,
        ProgramDetails,
        ProgramRecord,
        ProgramSummary,
    )
    from bpfman.errors import (
        BpfmanError,
        ConflictError,
        CorruptStateError,
        ImageError,
        InvalidInputError,
        KernelError,
        LimitExceededError,
        LockTimeoutError,
        LostStateError,
        NotFoundError,
        NotManagedError,
        PermissionDeniedError,
        PluginError,
        RegistryAuthError,
        RegistryUnreachableError,
        StateError,
        UnsupportedError,
    )
    from bpfman.inputs import ProgramRequest
    from bpfman.plugins.cgroup.options import CgroupParams
    from bpfman.plugins.fentry.options import FentryParams, FexitParams
    from bpfman.plugins.kprobe.options import KprobeParams
    from bpfman.plugins.lsm.options import LsmParams
    from bpfman.plugins.netkit.options import NetkitParams
    from bpfman.plugins.perf_event.options import PerfEventParams
    from bpfman.plugins.raw_tracepoint.options import RawTracepointParams
    from bpfman.plugins.tc.options import TcParams
    from bpfman.plugins.tcx.options import TcxParams
    from bpfman.plugins.tp_btf.options import TpBtfParams
    from bpfman.plugins.tracepoint.options import TracepointParams
    from bpfman.plugins.uprobe.options import UprobeParams
    from bpfman.plugins.xdp.options import XdpParams

__all__ = [
    "AttachParams",
    "Bpfman",
    "BpfmanError",
    "CgroupParams",
    "ConflictError",
    "CorruptStateError",
    "FentryParams",
    "FexitParams",
    "ImageError",
    "InvalidInputError",
    "KernelError",
    "KprobeParams",
    "LimitExceededError",
    "LinkDetails",
    "LinkRecord",
    "LinkView",
    "LockTimeoutError",
    "LostStateError",
    "LsmParams",
    "NetkitParams",
    "NotFoundError",
    "NotManagedError",
    "PerfEventParams",
    "PermissionDeniedError",
    "PluginError",
    "ProgramDetails",
    "ProgramRecord",
    "ProgramRequest",
    "ProgramSummary",
    "RawTracepointParams",
    "RegistryAuthError",
    "RegistryUnreachableError",
    "Selector",
    "StateError",
    "TcParams",
    "TcxParams",
    "TpBtfParams",
    "TracepointParams",
    "UnsupportedError",
    "UprobeParams",
    "XdpParams",
]

_WHERE: dict[str, str] = {
    **{name: "bpfman.errors" for name in __all__ if name.endswith("Error")},
    "AttachParams": "bpfman.core.contract",
    "LinkView": "bpfman.core.contract",
    "Selector": "bpfman.core.filters",
    "Bpfman": "bpfman.core.manager",
    "LinkDetails": "bpfman.core.model",
    "ProgramDetails": "bpfman.core.model",
    "ProgramSummary": "bpfman.core.model",
    "LinkRecord": "bpfman.core.model",
    "ProgramRecord": "bpfman.core.model",
    "ProgramRequest": "bpfman.inputs",
    # The built-in types' attach options (third-party types export their own).
    "CgroupParams": "bpfman.plugins.cgroup.options",
    "FentryParams": "bpfman.plugins.fentry.options",
    "FexitParams": "bpfman.plugins.fentry.options",
    "KprobeParams": "bpfman.plugins.kprobe.options",
    "LsmParams": "bpfman.plugins.lsm.options",
    "NetkitParams": "bpfman.plugins.netkit.options",
    "PerfEventParams": "bpfman.plugins.perf_event.options",
    "RawTracepointParams": "bpfman.plugins.raw_tracepoint.options",
    "TcParams": "bpfman.plugins.tc.options",
    "TcxParams": "bpfman.plugins.tcx.options",
    "TpBtfParams": "bpfman.plugins.tp_btf.options",
    "TracepointParams": "bpfman.plugins.tracepoint.options",
    "UprobeParams": "bpfman.plugins.uprobe.options",
    "XdpParams": "bpfman.plugins.xdp.options",
}


__getattr__ = lazy_attributes(__name__, _WHERE, globals())
