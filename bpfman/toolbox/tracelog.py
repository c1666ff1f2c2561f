"""``tracelog``: the kernel's trace pipe (``bpf_trace_printk`` output) on stdout.

tracefs is mounted at /sys/kernel/tracing first if it is mounted nowhere,
as bpftool does.
"""

from __future__ import annotations

import os
from typing import BinaryIO

from bpfman.errors import PermissionDeniedError, UnsupportedError
from bpfman.kernel.mounts import ensure_mounted
from bpfman.kernel.perf import tracefs_roots

TRACEFS = "/sys/kernel/tracing"
_CHUNK = 64 * 1024


def trace_pipe() -> str:
    """Path of the trace pipe, mounting tracefs if needed."""
    roots = tracefs_roots()
    if not roots:
        if not os.path.isdir(TRACEFS):
            raise UnsupportedError(f"this kernel has no tracefs ({TRACEFS} is missing)")
        ensure_mounted(TRACEFS, "tracefs")
        roots = tracefs_roots()
    if not roots:
        raise UnsupportedError(f"tracefs mounted at {TRACEFS} has no trace pipe")
    return f"{roots[0]}/trace_pipe"


def stream(out: BinaryIO) -> None:
    """Copy the trace pipe to ``out`` until interrupted or ``out`` is closed.

    Ctrl-C (KeyboardInterrupt) and a closed reader (``| head``) end it quietly.
    """
    path = trace_pipe()
    try:
        fd = os.open(path, os.O_RDONLY)
    except PermissionError:
        raise PermissionDeniedError(f"cannot read {path}: must be run as root") from None
    try:
        while True:
            chunk = os.read(fd, _CHUNK)
            if not chunk:
                return
            out.write(chunk)
            out.flush()
    except (KeyboardInterrupt, BrokenPipeError):
        return
    finally:
        os.close(fd)
