"""Attaching programs through bpf links, and asking what is attached."""

from __future__ import annotations

import errno
from typing import NamedTuple

from bpfman.core.errors import InvalidInputError
from bpfman.core.kernel.errcheck import check, check_syscall
from bpfman.core.kernel.fds import Fd
from bpfman.core.kernel.lib import binding, capture_libbpf_messages
from bpfman.core.kernel.syscalls import BPF_LINK_CREATE, BPF_PROG_QUERY, bpf
from bpfman.core.kernel.types import ATTACH_TYPE


def link_create(
    prog_fd: int,
    target: int,
    attach_type: int,
    *,
    flags: int = 0,
    relative_fd: int = 0,
    relative_id: int = 0,
    expected_revision: int = 0,
) -> Fd:
    """``BPF_LINK_CREATE`` with the Linux >= 6.6 attribute layout.

    ``target`` is an fd or an ifindex depending on the attach type (ifindex
    for XDP and TCX). For TCX, ``relative_fd``/``relative_id`` name the
    neighbour that ``BPF_F_BEFORE``/``BPF_F_AFTER`` refer to; pass
    ``BPF_F_ID`` with an ID and ``BPF_F_LINK`` when it is a link.
    """
    if relative_fd and relative_id:
        raise InvalidInputError("give either relative_fd or relative_id, not both")
    attr = binding().ffi.new("struct bpf_attr_link_create *")
    attr.prog_fd = prog_fd
    attr.target_fd = target
    attr.attach_type = attach_type
    attr.flags = flags
    attr.relative_fd_or_id = relative_id or relative_fd
    attr.expected_revision = expected_revision
    return Fd(check_syscall(bpf(BPF_LINK_CREATE, attr), "link_create"))


def link_create_perf_event(prog_fd: int, perf_fd: int) -> Fd:
    """A pinnable link tying a program to a perf event (tracepoint, k/uprobe).

    The link holds the perf event, so the caller may close ``perf_fd``.
    """
    return link_create(prog_fd, perf_fd, ATTACH_TYPE.PERF_EVENT)


def raw_tracepoint_open(prog_fd: int) -> Fd:
    """Attach an fentry/fexit (tracing) program at its load-time target."""
    with capture_libbpf_messages() as messages:
        rc = binding().bpf.bpf_raw_tracepoint_open(binding().ffi.NULL, prog_fd)
    return Fd(check(rc, "raw_tracepoint_open", messages))


class HookChain(NamedTuple):
    """A multi-program hook's programs and links in run order, and its revision."""

    prog_ids: list[int]
    link_ids: list[int]
    revision: int


def prog_query(target: int, attach_type: int) -> list[int]:
    """IDs of the programs attached at a hook, in the kernel's run order."""
    return _query(target, attach_type, with_links=False).prog_ids


def tcx_chain(ifindex: int, attach_type: int) -> HookChain:
    """The TCX chain of an interface: programs, their links (0 if none), revision.

    Linux >= 6.6 only: older kernels reject the link fields of the query.
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
