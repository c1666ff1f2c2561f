"""Whether this process may manage BPF objects: the first thing every command checks.

Its own module, importing only ``os``, so that ``list`` checks it without
loading the configuration's parser.
"""

from __future__ import annotations

import os

from bpfman.errors import PermissionDeniedError

_CAP_SYS_ADMIN = 21
_CAP_BPF = 39


def require_privilege() -> None:
    """Refuse, saying why, when this process cannot manage BPF objects."""
    reason = _missing_privilege()
    if reason:
        raise PermissionDeniedError(reason)


def _missing_privilege() -> str | None:
    try:
        with open("/proc/self/status") as f:
            caps = next(int(line.split()[1], 16) for line in f if line.startswith("CapEff:"))
    except (OSError, StopIteration, ValueError):
        return None if os.geteuid() == 0 else "must be run as root"
    if caps & (1 << _CAP_SYS_ADMIN):
        return None
    if os.geteuid() != 0:
        return "must be run as root (or with CAP_SYS_ADMIN and CAP_BPF)"
    if not caps & (1 << _CAP_BPF):
        return "missing capability CAP_BPF (and CAP_SYS_ADMIN)"
    return "missing capability CAP_SYS_ADMIN"
