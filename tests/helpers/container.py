"""A stand-in container: a process in its own mount namespace with files the host cannot see.

``unshare --mount --propagation private`` gives the process a private copy of the
host's mounts. It then mounts tmpfs over ``/opt`` (so :data:`CTR_DIR` exists only in
its view), over the paths the test asks to hide and bpfman's package directory (so,
as in a real container, neither the test's bpfman root with its bpffs nor bpfman's
code is visible inside) and over ``/var/cache/ldconfig`` (so its ``ldconfig`` run
leaves the host's aux-cache alone). Only named paths are hidden, never all of
``/tmp``: the checkout and its venv may live there.

Under :data:`CTR_DIR` it puts a copy of libc as :data:`CTR_LIB`, a ``libc.so.6``
symlink to it, and its own ``/etc/ld.so.cache`` (bind-mounted) in which ``libc``
resolves to :data:`CTR_LIBC_LINK` first. The process calls ``getpid`` through the
copy whenever the test asks, so probes on the copy fire exactly when the test says.

Nothing is mounted in any other namespace: the mounts go away with the namespace,
which goes away when the process dies, so killing the process is the whole cleanup.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import bpfman
from tests.helpers import run

HOST_LIBC = "/lib/x86_64-linux-gnu/libc.so.6"
CTR_DIR = "/opt/bpfman-ctr"
CTR_LIB = f"{CTR_DIR}/lib/libdemo.so"
CTR_LIBC_LINK = f"{CTR_DIR}/lib/libc.so.6"

BPFMAN_CODE = str(Path(bpfman.__file__).resolve().parent)

# $1 host libc, $2 CTR_DIR, $3 python, $4 body, $5... paths to hide;
# -X: ldconfig must not touch any links.
_SETUP = """
set -e
libc=$1 ctr=$2 python=$3 body=$4
shift 4
for dir in "$@" /opt /var/cache/ldconfig; do mount -t tmpfs bpfman-ctr "$dir"; done
set -- "$libc" "$ctr" "$python" "$body"
mkdir -p "$2/lib"
cp "$1" "$2/lib/libdemo.so"
ln -s libdemo.so "$2/lib/libc.so.6"
echo "$2/lib" > "$2/ld.so.conf"
ldconfig -X -C "$2/ld.so.cache" -f "$2/ld.so.conf"
mount --bind "$2/ld.so.cache" /etc/ld.so.cache
exec "$3" -c "$4" "$2/lib/libdemo.so"
"""
_BODY = """
import ctypes, sys
lib = ctypes.CDLL(sys.argv[1])
print("ready", flush=True)
for line in sys.stdin:
    for _ in range(int(line)):
        lib.getpid()
    print("done", flush=True)
"""


class Container:
    """The container's only process; ``pid`` is its host PID, as ``-c`` wants it."""

    def __init__(self, hide: tuple[str, ...] = ()) -> None:
        self.proc = subprocess.Popen(
            [
                "unshare",
                "--mount",
                "--propagation",
                "private",
                "sh",
                "-c",
                _SETUP,
                "setup",
                HOST_LIBC,
                CTR_DIR,
                sys.executable,
                _BODY,
                BPFMAN_CODE,
                *hide,
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.pid = self.proc.pid  # unshare and sh exec, so this is the Python process
        try:
            self._expect("ready")
            self.mountns = os.stat(f"/proc/{self.pid}/ns/mnt").st_ino
        except BaseException:
            self.close()
            raise

    def _expect(self, word: str) -> None:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if line != word:
            self.proc.kill()
            _, err = self.proc.communicate()
            raise AssertionError(f"container said {line!r}, not {word!r}; stderr:\n{err}")

    def call_getpid(self, times: int) -> None:
        """Have the container call getpid() ``times`` times through its libdemo.so."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"{times}\n")
        self.proc.stdin.flush()
        self._expect("done")

    def sees(self, path: str) -> bool:
        """Whether ``path`` exists in the container's view of the file system."""
        return Path(f"/proc/{self.pid}/root{path}").exists()

    def run_inside(self, *args: str) -> str:
        """Run a command in the container's mount namespace; return its stdout."""
        return run(["nsenter", "-t", str(self.pid), "-m", *args])

    def close(self) -> None:
        """Kill the process and reap it; its namespace and tmpfs die with it."""
        if self.proc.returncode is None:
            self.proc.kill()
            self.proc.communicate()


def mountns_alive(inode: int) -> bool:
    """Whether any process still lives in the mount namespace with this inode."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.stat(entry / "ns" / "mnt").st_ino == inode:
                    return True
            except OSError:
                continue  # the process exited while we looked
    return False
