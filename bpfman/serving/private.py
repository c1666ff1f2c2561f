"""The private directories the relays' sockets live in: under bpfman's root.

Each gRPC server of the service listens on a socket in a directory of its own,
``<root>/relay/<server>-XXXXXXXX`` (0700 under a 0700 root), with the relay's
client sockets beside it. The directory is held by an ``flock`` on it for as
long as the server runs, which the kernel drops when the process dies, however
it dies: a service starting later removes every directory nobody holds (a
SIGKILLed predecessor's), so none piles up, and never one a live service uses
(two services may share a root). Creating and cleaning take turns on a lock of
``<root>/relay`` itself, so a directory is never removed between its creation
and its lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import tempfile
from pathlib import Path

from bpfman.core.bpffs import private_dir
from bpfman.errors import StateError

# sun_path holds 108 bytes with its NUL; the relay's client sockets are c<number>.
MAX_SOCKET_PATH = 107
LONGEST_NAME = "c" + "9" * 12


class PrivateDir:
    """A directory for one server's sockets, held until :meth:`close`."""

    def __init__(self, relay: Path, server: str) -> None:
        parent = Path(os.path.realpath(relay))
        root = parent.parent
        private_dir(parent)
        turn = os.open(parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fcntl.flock(turn, fcntl.LOCK_EX)
            remove_stale(parent)
            self.path = Path(tempfile.mkdtemp(prefix=f"{server}-", dir=parent))  # 0700
            self._held = os.open(self.path, os.O_RDONLY | os.O_DIRECTORY)
            fcntl.flock(self._held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            os.close(turn)  # and its lock
        longest = len(os.fsencode(self.path / LONGEST_NAME))
        if longest > MAX_SOCKET_PATH:
            self.close()
            raise StateError(
                f"bpfman's root {root} is too long for the service's private sockets"
                f" ({longest} bytes in {parent}/..., at most {MAX_SOCKET_PATH}): choose a"
                " shorter root"
            )

    def close(self) -> None:
        """Remove the directory, then let it go."""
        shutil.rmtree(self.path, ignore_errors=True)
        with contextlib.suppress(OSError):
            os.close(self._held)


def remove_stale(parent: Path) -> None:
    """Remove the directories under ``parent`` that no live server holds."""
    for entry in os.scandir(parent):
        if not entry.is_dir(follow_symlinks=False):
            continue
        try:
            fd = os.open(entry.path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            continue  # a live server's
        else:
            shutil.rmtree(entry.path, ignore_errors=True)
        finally:
            os.close(fd)
