"""A private bpffs mount, for pins made outside bpfman."""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from pathlib import Path

from tests.helpers import run


@contextlib.contextmanager
def private_bpffs(prefix: str = "bpft-fs-") -> Iterator[Path]:
    """Mount a bpffs on a new directory; unmounting it on exit drops every pin made under it."""
    # No dots in the path: libbpf rewrites '.' to '_' in pin paths.
    fs = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        run(["mount", "-t", "bpf", "bpf", str(fs)])
        try:
            yield fs
        finally:
            run(["umount", str(fs)])
    finally:
        fs.rmdir()
