"""Attaching programs through bpf links, and asking what is attached."""

from __future__ import annotations

import errno

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


def prog_query(target: int, attach_type: int) -> list[int]:
    """IDs of the programs attached at a hook, in the kernel's run order."""
    b = binding()
    capacity = 16
    while True:
        ids = b.ffi.new("__u32[]", capacity)
        attr = b.ffi.new("struct bpf_attr_query *")
        attr.target_fd = target
        attr.attach_type = attach_type
        attr.prog_ids = int(b.ffi.cast("uintptr_t", ids))
        attr.prog_cnt = capacity
        if bpf(BPF_PROG_QUERY, attr) < 0:
            if b.ffi.errno == errno.ENOSPC:
                capacity *= 4
                continue
            check_syscall(-1, "prog_query")
        return [int(ids[i]) for i in range(min(int(attr.prog_cnt), capacity))]
