"""Generate :mod:`bpfman.kernel._ffi`: the C declarations, pre-parsed.

cffi's out-of-line ABI mode writes the parsed declarations of
:mod:`bpfman.kernel.cdefs` as a small Python module, so a command pays
neither pycparser's import nor its parse (tens of milliseconds) and still
needs no compiler: the libraries are dlopened at run time as before. The
module is committed; ``make ffi`` regenerates it and a test fails when it
is stale.

    python -m bpfman.kernel.build_ffi [OUT_DIR]
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from bpfman.kernel import cdefs

MODULE = "bpfman.kernel._ffi"


def generate(out_dir: Path) -> Path:
    """Write ``_ffi.py`` into ``out_dir``; return its path."""
    import cffi

    ffi = cffi.FFI()
    ffi.cdef(cdefs.LIBBPF)
    ffi.cdef(cdefs.LIBC)
    ffi.set_source(MODULE, None)
    with tempfile.TemporaryDirectory() as tmp:
        built = Path(ffi.compile(tmpdir=tmp, verbose=False))
        target = out_dir / "_ffi.py"
        shutil.copyfile(built, target)
    return target


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent
    print(generate(out))
