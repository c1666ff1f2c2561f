"""The kernel's run statistics of BPF programs (``run_cnt``, ``run_time_ns``).

The kernel counts only while statistics are on: while the
``kernel.bpf_stats_enabled`` sysctl is 1, or while some process holds the fd
``BPF_ENABLE_STATS`` returned. The sysctl does not show the fd holders.
"""

from __future__ import annotations

from bpfman.kernel.errcheck import check
from bpfman.kernel.fds import Fd
from bpfman.kernel.lib import binding, capture_libbpf_messages

SYSCTL = "/proc/sys/kernel/bpf_stats_enabled"
_STATS_RUN_TIME = 0  # enum bpf_stats_type


def enable_stats() -> Fd:
    """Turn statistics on for as long as the returned fd stays open."""
    with capture_libbpf_messages() as messages:
        rc = binding().bpf.bpf_enable_stats(_STATS_RUN_TIME)
    return Fd(check(rc, "enable BPF statistics (BPF_ENABLE_STATS)", messages))


def stats_sysctl() -> bool | None:
    """``kernel.bpf_stats_enabled``; None where the kernel has no such sysctl."""
    try:
        with open(SYSCTL) as f:
            return f.read().strip() != "0"
    except (OSError, ValueError):
        return None
