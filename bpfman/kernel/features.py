"""Kernel features bpfman relies on: named probes, the release that brought
each feature, and a refusal that says which is missing.

As cilium/ebpf's feature tests: a :class:`Feature` has a name, the first
kernel release that has it and a probe; without a probe the release decides.
An answer is kept for the life of the process only when it is conclusive: the
kernel has the feature, or refused it with an errno that says so
(:data:`CONCLUSIVE`). Any other failure (ENOMEM, EAGAIN, out of file
descriptors) answers "no" this once, and the next question probes again, so a
bad moment never sticks for the life of the service. A refusal reads
"tcx not supported by kernel 6.1.0 (requires >= 6.6)", or names what the probe
found when the release is recent enough.

The kernel-level features are declared here; one whose probe needs more than
the kernel binding is declared next to what it probes with (freplace, in
``bpfman.dispatcher.loader``: it loads a dispatcher).
"""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Callable
from typing import NamedTuple

from bpfman.errors import KernelError, UnsupportedError
from bpfman.kernel.errcheck import check
from bpfman.kernel.lib import binding
from bpfman.kernel.names import prog_type_name

ENOTSUPP = 524  # the kernel's own "not supported", which bpf() lets out
#: Errnos by which the kernel says it lacks a feature (rather than failing for now).
CONCLUSIVE = frozenset(
    {errno.EINVAL, errno.EPERM, errno.EACCES, errno.EOPNOTSUPP, ENOTSUPP, errno.E2BIG}
)
PMU_ROOT = "/sys/bus/event_source/devices"
ACTIVE_LSMS = "/sys/kernel/security/lsm"


class Support(NamedTuple):
    """A feature's answer (a NamedTuple: a dataclass costs every plugin's import more).

    :param refusal: why it is not supported, as one sentence ("" when it is).
    :param conclusive: the answer holds for the life of the process.
    """

    supported: bool
    refusal: str = ""
    conclusive: bool = True


def release() -> str:
    """The running kernel's release (``uname -r``)."""
    return os.uname().release


def release_version(text: str) -> tuple[int, int] | None:
    """(major, minor) of a release such as ``6.12.95+deb12-amd64``; None if it has none."""
    found = re.match(r"(\d+)\.(\d+)", text)
    return (int(found[1]), int(found[2])) if found else None


class Feature:
    """A kernel feature, asked for with :meth:`check` (or :meth:`supported`).

    :param version: the first mainline release that has it (distributions may
        backport it: a probe, when there is one, decides).
    :param probe: answers :class:`Support` (``refusal``: what it found) or raises
        :class:`KernelError`; None: the running release decides.
    :param needs: the kernel configuration it needs besides the release.
    """

    def __init__(
        self,
        name: str,
        version: tuple[int, int],
        probe: Callable[[], Support] | None = None,
        *,
        needs: str = "",
    ) -> None:
        self.name = name
        self.version = version
        self.probe = probe
        self.needs = needs
        self._known: Support | None = None

    def __repr__(self) -> str:
        return f"Feature({self.name!r}, {self.version})"

    def check(self) -> Support:
        """The answer: the conclusive one found earlier, or the probe's now."""
        if self._known is not None:
            return self._known
        answer = self._ask()
        if answer.conclusive:
            self._known = answer
        return answer

    def supported(self) -> bool:
        return self.check().supported

    def error(self) -> UnsupportedError:
        """The error that says the feature is missing (ask :meth:`check` first)."""
        return UnsupportedError(self.check().refusal)

    def require(self) -> None:
        """Raise :meth:`error` unless the kernel has the feature."""
        if not self.supported():
            raise self.error()

    def explain(self, exc: KernelError) -> Exception:
        """What to raise for a refused call: the refusal when the kernel lacks the
        feature (kernels answer an attach type or flag they do not know with EINVAL),
        ``exc`` itself otherwise."""
        if exc.errno == errno.EINVAL and not self.supported():
            return self.error()
        return exc

    def _ask(self) -> Support:
        running = release_version(release())
        older = running is not None and running < self.version
        if self.probe is None:
            return Support(True) if not older else Support(False, self._sentence(older, ""))
        try:
            found = self.probe()
        except KernelError as exc:
            why = os.strerror(exc.errno)
            if exc.errno not in CONCLUSIVE:
                return Support(
                    False,
                    f"{self.name} could not be probed on kernel {release()} "
                    f"({exc.operation}: {why}); it is probed again on the next use",
                    conclusive=False,
                )
            found = Support(False, f"the kernel refused to {exc.operation}: {why}")
        if found.supported:
            return found
        return Support(False, self._sentence(older, found.refusal), found.conclusive)

    def _sentence(self, older: bool, found: str) -> str:
        text = f"{self.name} not supported by kernel {release()}"
        if older:
            text += f" (requires >= {self.version[0]}.{self.version[1]})"
        elif self.needs:
            text += f" (requires {self.needs})"
        return f"{text}: {found}" if found else text


def _pmu(name: str) -> Callable[[], Support]:
    """A probe for a perf PMU the kernel registers when it is built with the feature."""

    def probe() -> Support:
        if os.path.exists(f"{PMU_ROOT}/{name}/type"):
            return Support(True)
        return Support(False, f"no {name} PMU in {PMU_ROOT}")

    return probe


def active_lsms() -> list[str] | None:
    """The kernel's active LSMs, or None when securityfs does not show them."""
    try:
        with open(ACTIVE_LSMS) as f:
            return [name for name in f.read().strip().split(",") if name]
    except OSError:
        return None


def _bpf_lsm_active() -> Support:
    """The kernel loads LSM programs without ``bpf`` among its active LSMs, and never
    runs them; when securityfs does not say, the kernel is left to answer."""
    active = active_lsms()
    if active is None:
        return Support(True, conclusive=False)
    if "bpf" in active:
        return Support(True)
    return Support(
        False,
        f"bpf is not among its active LSMs ({','.join(active)}): "
        f"boot with lsm={','.join([*active, 'bpf'])}",
    )


TCX = Feature("tcx", (6, 6))
NETKIT = Feature("netkit", (6, 7))
#: BPF_F_BEFORE/BPF_F_AFTER on cgroup hooks (mprog for cgroups).
CGROUP_PLACEMENT = Feature("placing a cgroup link before another", (6, 16))
KPROBES = Feature("kprobes", (4, 17), _pmu("kprobe"), needs="CONFIG_KPROBES")
UPROBES = Feature("uprobes", (4, 17), _pmu("uprobe"), needs="CONFIG_UPROBES")
BPF_LSM = Feature("BPF LSM", (5, 7), _bpf_lsm_active)


def probe_prog_type(prog_type: int) -> bool:
    """Whether this kernel loads programs of ``prog_type`` (loads a trivial one)."""
    rc = binding().bpf.libbpf_probe_bpf_prog_type(prog_type, binding().ffi.NULL)
    return check(rc, f"probe program type {prog_type_name(prog_type)}") == 1
