"""Links whose attach point went away behind bpfman's back, found when they are read.

The kernel detaches a link when what it hangs on goes: an interface is
deleted (or its network namespace), a cgroup removed, a process exits, or
root removes its pin by hand. Nobody tells bpfman, so a reader asks -- cheaply,
since ``list`` runs in loops:

- a pinned link is there while its pin is: one listing of ``fs/links`` per read;
- links on one hook (interface, cgroup) live and die together: the kernel's
  info of one of them (ifindex 0, cgroup id 0: detached) answers for the hook,
  and only a hook found detached has each of its links asked;
- what a plugin recorded with the link at attach time (its *anchor*, see
  :func:`interface`...) says what else to check: a process, a directory of pins,
  an interface that has no bpf_link of its own (tc).

``system recover`` asks every link on its own (``per_hook=False``): one link
detached with ``bpftool link detach`` while its hook lives is found there.
"""

from __future__ import annotations

import os

from bpfman.errors import BpfmanError, NotFoundError

TYPE_CHECKING = False  # ``list links`` imports this module: not typing
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from .model import LinkRecord
    from .state import Txn

PIN_REMOVED = "pin removed"
INTERFACE_GONE = "interface gone"
NETNS_GONE = "network namespace gone"
CGROUP_GONE = "cgroup gone"
PROCESS_EXITED = "process exited"
DETACHED_OUTSIDE = "detached outside bpfman"


# -- what plugins record (LinkRecord.anchor) ----------------------------------
def interface(
    netns: Mapping[str, Any], ifindex: int, link_pin: str | None = None
) -> dict[str, Any]:
    """A link on an interface (a :class:`~bpfman.kernel.namespaces.NetnsRef` record and
    an ifindex). ``link_pin``: the bpf_link that holds it there when that is not the
    link's own pin (xdp: the hook's link); with neither, the interface itself is
    looked up (tc: filters are no bpf_links).

    Any anchor may name a ``link`` pin: the kernel's info of that bpf_link says
    whether it was detached. A link's own pin is asked without it when the link
    is on a hook."""
    anchor: dict[str, Any] = {"netns": dict(netns), "ifindex": ifindex}
    if link_pin is not None:
        anchor["link"] = link_pin
    return anchor


def cgroup(path: str, cgroup_id: int) -> dict[str, Any]:
    """A link on a cgroup directory (``cgroup_id``: its inode, the kernel's cgroup id)."""
    return {"cgroup": path, "cgroup_id": cgroup_id}


def process(pid: int) -> dict[str, Any]:
    """A link bound to one process; its start time tells a reused pid apart."""
    return {"pid": pid, "start": _start_time(pid)}


def pins(directory: str) -> dict[str, Any]:
    """A link made of the bpf_links pinned in ``directory`` (gone when none is left)."""
    return {"pins": directory}


# -- what readers check ---------------------------------------------------------
class Liveness:
    """Why links are detached, each fact asked of the kernel at most once per read.

    :param links_dir: where the core pins links (``fs/links``).
    :param per_hook: let one link of a hook answer for all of it (readers);
        False asks every link (recovery).
    """

    def __init__(self, txn: Txn, links_dir: str, *, per_hook: bool = True) -> None:
        self._txn = txn
        self._links_dir = links_dir
        self._per_hook = per_hook
        self._pinned: set[str] | None = None
        self._hooks: dict[str, list[int]] = {}
        self._own: dict[int, str | None] = {}

    def detached(self, link: LinkRecord) -> str | None:
        """Why the kernel no longer runs ``link`` there (None: it does)."""
        if link.pin and not self._is_pinned(link.pin):
            return PIN_REMOVED
        if link.hook is None:
            return self._check(link) if link.anchor else None
        if self._per_hook and link.id in self.live_on_hook(link.hook):
            return None
        return self._check(link)

    def live_on_hook(self, hook: str) -> list[int]:
        """Ids of the links on ``hook`` that still run there, in run order."""
        if hook not in self._hooks:
            links = self._txn.links_on_hook(hook)
            pinned = [ln for ln in links if not ln.pin or self._is_pinned(ln.pin)]
            if self._per_hook and pinned and self._check(pinned[0]) is None:
                self._hooks[hook] = [ln.id for ln in pinned]
            else:
                self._hooks[hook] = [ln.id for ln in pinned if self._check(ln) is None]
        return self._hooks[hook]

    def _is_pinned(self, path: str) -> bool:
        directory, _, name = path.rpartition("/")
        if directory != self._links_dir:
            return os.path.lexists(path)
        if self._pinned is None:
            try:
                self._pinned = set(os.listdir(directory))
            except OSError:
                self._pinned = set()
        return name in self._pinned

    def _check(self, link: LinkRecord) -> str | None:
        if link.id not in self._own:
            self._own[link.id] = _why(link)
        return self._own[link.id]


def _why(link: LinkRecord) -> str | None:
    """What the kernel and procfs say of the link's anchor (its pin is there)."""
    anchor = link.anchor
    kernel_link = anchor.get("link") or (link.pin if link.hook is not None else None)
    if kernel_link:
        why = _kernel_link(str(kernel_link), anchor)
        if why:
            return why
    elif "ifindex" in anchor:  # no bpf_link holds it (tc): the interface must be there
        why = _interface(anchor)
        if why:
            return why
    if "pins" in anchor and not _holds_pins(str(anchor["pins"])):
        return PIN_REMOVED
    if "pid" in anchor:
        started = _start_time(int(anchor["pid"]))
        if started is None or started != anchor.get("start"):
            return PROCESS_EXITED
    return None


def _kernel_link(path: str, anchor: Mapping[str, Any]) -> str | None:
    from bpfman import kernel
    from bpfman.kernel.attach_types import LINK_TYPE
    from bpfman.kernel.links import is_detached

    try:
        with kernel.obj_get(path) as fd:
            info = kernel.link_info(fd.fd)
    except NotFoundError:  # a hook's link goes with its interface, on a sibling's detach
        return (_interface(anchor) if "ifindex" in anchor else None) or PIN_REMOVED
    except BpfmanError:
        return None  # cannot tell: never claim a link is gone
    if not is_detached(info):
        return None
    if "ifindex" in anchor:
        return _interface(anchor) or DETACHED_OUTSIDE
    if "cgroup" in anchor:
        return CGROUP_GONE if _cgroup_gone(anchor) else DETACHED_OUTSIDE
    return CGROUP_GONE if info.type == LINK_TYPE.CGROUP else INTERFACE_GONE


def _interface(anchor: Mapping[str, Any]) -> str | None:
    """Whether the recorded interface, or its namespace, is gone."""
    import socket

    from bpfman.kernel.namespaces import NetnsRef

    try:
        ref = NetnsRef.from_record(anchor["netns"])
    except NotFoundError:
        return NETNS_GONE
    except BpfmanError:
        return None
    try:
        with ref.entered():
            socket.if_indextoname(int(anchor["ifindex"]))
    except NotFoundError:
        return NETNS_GONE
    except OSError:
        # A namespace deleted by name may linger while a process leaves it, its
        # interfaces already gone: the name going is the cause to show.
        return NETNS_GONE if ref.path_gone() else INTERFACE_GONE
    except BpfmanError:
        return None
    return None


def _cgroup_gone(anchor: Mapping[str, Any]) -> bool:
    try:
        return os.stat(str(anchor["cgroup"])).st_ino != int(anchor["cgroup_id"])
    except OSError:
        return True


def _holds_pins(directory: str) -> bool:
    try:
        with os.scandir(directory) as it:
            return any(not entry.is_dir(follow_symlinks=False) for entry in it)
    except OSError:
        return False


def _start_time(pid: int) -> int | None:
    """When process ``pid`` started (clock ticks after boot); None once it has exited."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat[stat.rfind(b")") + 2 :].split()  # the name may hold spaces and parens
    if len(fields) < 20 or fields[0] in (b"Z", b"X"):  # a zombie no longer runs
        return None
    return int(fields[19])
