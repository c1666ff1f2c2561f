"""The kernel's limits on programs per hook, said in the user's terms.

One program too many on a hook comes back from the kernel as a bare errno:
ERANGE from a tcx or netkit hook (``bpf_mprog`` holds 63), E2BIG from a
cgroup hook or a tracepoint (64 each). A handler wraps the call that attaches
in :func:`hook_limit`, naming the hook, so the user reads which limit was
reached where and what to do instead of ``Argument list too long``.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import contextmanager

from bpfman.plugin import KernelError, LimitExceededError

MPROG_MAX = 63  # a tcx or netkit hook (BPF_MPROG_MAX less the kernel's spare slot)
CGROUP_MAX = 64  # a cgroup's hook (BPF_CGROUP_MAX_PROGS)
TRACE_MAX = 64  # a tracepoint (BPF_TRACE_MAX_PROGS)


@contextmanager
def hook_limit(hook: str, limit: int, err: int) -> Iterator[None]:
    """Turn ``err`` from the attach in the block into :class:`LimitExceededError`.

    :param hook: the hook as the user named it ("the tcx ingress hook of eth0").
    :param limit: how many programs the kernel runs there.
    :param err: the errno by which the kernel says the hook is full.
    """
    try:
        yield
    except KernelError as exc:
        if exc.errno != err:
            raise
        raise LimitExceededError(
            f"{hook} already holds the kernel's limit of {limit} programs "
            f"({errno.errorcode[err]}): detach one of them before attaching another"
        ) from exc
