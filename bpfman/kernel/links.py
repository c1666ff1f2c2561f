"""Attaching programs through bpf links, and asking what is attached."""

from __future__ import annotations

import errno
import time
from typing import NamedTuple

from bpfman.errors import InvalidInputError, KernelError, NotFoundError
from bpfman.kernel.attach_types import ATTACH_TYPE, BPF_F_REPLACE, LINK_TYPE
from bpfman.kernel.errcheck import check, check_syscall
from bpfman.kernel.fds import Fd
from bpfman.kernel.info import LinkInfo
from bpfman.kernel.lib import binding, capture_libbpf_messages
from bpfman.kernel.syscalls import BPF_LINK_CREATE, BPF_PROG_QUERY, bpf

# Link types whose info starts with the ifindex (netns links: the netns inode) of
# what they are attached to, 0 once the kernel detached them.
_ON_A_TARGET = (LINK_TYPE.XDP, LINK_TYPE.TCX, LINK_TYPE.NETKIT, LINK_TYPE.NETNS)


def link_create(
    prog_fd: int,
    target: int,
    attach_type: int,
    *,
    flags: int = 0,
    relative_fd: int = 0,
    relative_id: int = 0,
    expected_revision: int = 0,
    target_btf_id: int = 0,
) -> Fd:
    """``BPF_LINK_CREATE`` with the Linux >= 6.6 attribute layout.

    ``target`` is an fd or an ifindex depending on the attach type (ifindex
    for XDP and TCX). For TCX, ``relative_fd``/``relative_id`` name the
    neighbour that ``BPF_F_BEFORE``/``BPF_F_AFTER`` refer to; pass
    ``BPF_F_ID`` with an ID and ``BPF_F_LINK`` when it is a link. For
    freplace, ``target`` is the program to extend and ``target_btf_id`` the
    BTF id of the function replaced (see :func:`prog_func_btf_id`).
    """
    if sum(1 for v in (relative_fd, relative_id, target_btf_id) if v) > 1:
        raise InvalidInputError("give one of relative_fd, relative_id, target_btf_id")
    attr = binding().ffi.new("struct bpf_attr_link_create *")
    attr.prog_fd = prog_fd
    attr.target_fd = target
    attr.attach_type = attach_type
    attr.flags = flags
    attr.target_btf_id_or_relative = relative_id or relative_fd or target_btf_id
    attr.expected_revision = expected_revision
    return Fd(check_syscall(bpf(BPF_LINK_CREATE, attr), "link_create"))


def link_update(link_fd: int, new_prog_fd: int, *, old_prog_fd: int = 0) -> None:
    """Swap the program behind a link atomically (XDP dispatcher revisions).

    With ``old_prog_fd`` the kernel refuses (EPERM) if the link no longer runs it.
    """
    b = binding()
    opts = b.ffi.new("struct bpf_link_update_opts *")
    opts.sz = b.ffi.sizeof("struct bpf_link_update_opts")
    if old_prog_fd:
        opts.flags = BPF_F_REPLACE
        opts.old_prog_fd = old_prog_fd
    check(b.bpf.bpf_link_update(link_fd, new_prog_fd, opts), "link_update")


def link_detach(link_fd: int) -> None:
    """Detach a link from its hook even while pins or other fds hold it."""
    check(binding().bpf.bpf_link_detach(link_fd), "link_detach")


def is_detached(info: LinkInfo) -> bool:
    """Whether the kernel has detached the link from what it was attached to.

    The link lives on while a pin or an fd holds it, but the kernel clears its
    target: an xdp, tcx or netkit link reports ifindex 0 once its interface is
    unregistered (or it was detached with ``BPF_LINK_DETACH``), a cgroup link
    cgroup id 0 once its cgroup is released, a netns link netns inode 0. Other
    links (tracepoints, probes, tracing) have no such state.
    """
    if info.type == LINK_TYPE.CGROUP:
        return info.words[0] == 0 and info.words[1] == 0  # the u64 cgroup id
    return info.type in _ON_A_TARGET and info.words[0] == 0


def link_create_perf_event(prog_fd: int, perf_fd: int, settle: float = 0.1) -> Fd:
    """A pinnable link tying a program to a perf event (tracepoint, k/uprobe).

    The link holds the perf event, so the caller may close ``perf_fd``. The
    kernel detaches a released perf link in a deferred work item, after its
    id is gone: EEXIST right after the same program left the same event
    source is retried for ``settle`` seconds before it is believed.
    """
    deadline = time.monotonic() + settle
    while True:
        try:
            return link_create(prog_fd, perf_fd, ATTACH_TYPE.PERF_EVENT)
        except KernelError as exc:
            if exc.errno != errno.EEXIST or time.monotonic() > deadline:
                raise
        time.sleep(0.002)


def raw_tracepoint_open(prog_fd: int, name: str | None = None) -> Fd:
    """Attach a program through ``BPF_RAW_TRACEPOINT_OPEN``.

    Without ``name``: a tracing (fentry/fexit, tp_btf) or LSM program at its
    load-time target. With ``name``: a raw_tracepoint program at that
    tracepoint (``sched_switch``).
    """
    b = binding()
    c_name = b.ffi.NULL if name is None else b.ffi.new("char[]", name.encode())
    with capture_libbpf_messages() as messages:
        rc = b.bpf.bpf_raw_tracepoint_open(c_name, prog_fd)
    if rc == -errno.ENOENT and name is not None:
        raise NotFoundError(f"raw tracepoint {name} not found")
    what = f"raw_tracepoint_open {name}" if name else "raw_tracepoint_open"
    return Fd(check(rc, what, messages))


class HookChain(NamedTuple):
    """A multi-program hook's programs and links in run order, and its revision."""

    prog_ids: list[int]
    link_ids: list[int]
    revision: int


def prog_query(target: int, attach_type: int) -> list[int]:
    """IDs of the programs attached at a hook, in the kernel's run order."""
    return _query(target, attach_type, with_links=False).prog_ids


def tcx_chain(ifindex: int, attach_type: int) -> HookChain:
    """The chain of a multi-program hook: programs, their links (0 if none), revision.

    TCX and netkit take an ifindex, cgroups (Linux >= 6.16) a cgroup fd. Linux
    >= 6.6 only: older kernels reject the link fields of the query.
    """
    return _query(ifindex, attach_type, with_links=True)


def _query(target: int, attach_type: int, with_links: bool) -> HookChain:
    b = binding()
    capacity = 16
    while True:
        prog_ids = b.ffi.new("__u32[]", capacity)
        link_ids = b.ffi.new("__u32[]", capacity)
        attr = b.ffi.new("struct bpf_attr_query *")
        attr.target_fd = target
        attr.attach_type = attach_type
        attr.prog_ids = int(b.ffi.cast("uintptr_t", prog_ids))
        if with_links:
            attr.link_ids = int(b.ffi.cast("uintptr_t", link_ids))
        attr.prog_cnt = capacity
        if bpf(BPF_PROG_QUERY, attr) < 0:
            if b.ffi.errno == errno.ENOSPC:
                capacity = max(capacity * 4, int(attr.prog_cnt))
                continue
            check_syscall(-1, "prog_query")
        count = min(int(attr.prog_cnt), capacity)
        return HookChain(
            [int(prog_ids[i]) for i in range(count)],
            [int(link_ids[i]) for i in range(count)] if with_links else [],
            int(attr.revision),
        )
