"""Opening a cgroup v2 directory, refusing anything else with a clear message."""

from __future__ import annotations

import os

from bpfman.plugin import InvalidInputError, NotFoundError


def cgroup2_mounts() -> list[str]:
    """Where cgroup v2 is mounted, longest path first."""
    found = []
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                left, _, right = line.partition(" - ")
                fields = left.split()
                if len(fields) > 4 and right.split()[:1] == ["cgroup2"]:
                    found.append(fields[4].replace("\\040", " "))
    except OSError:
        pass
    return sorted(found, key=len, reverse=True)


def open_cgroup(path: str) -> tuple[str, int]:
    """The resolved path of a cgroup v2 directory and an O_RDONLY fd of it (caller closes)."""
    resolved = os.path.realpath(path)
    if not os.path.exists(resolved):
        raise NotFoundError(f"cgroup {path} not found")
    mounts = cgroup2_mounts()
    inside = any(resolved == m or resolved.startswith(m.rstrip("/") + "/") for m in mounts)
    if not os.path.isdir(resolved) or not inside:
        where = f" (cgroup v2 is mounted at {', '.join(mounts)})" if mounts else ""
        raise InvalidInputError(f"{path} is not a cgroup v2 directory{where}")
    return resolved, os.open(resolved, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
