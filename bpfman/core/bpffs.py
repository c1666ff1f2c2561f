"""bpfman's root directory, its own bpffs, and the pin paths inside it.

Everything bpfman keeps alive in the kernel is pinned under one bpffs mount
below its root directory, so a separate root (tests, a second instance) never
collides with another one. The root, the store and the bpffs are root's
alone (0700): an unprivileged user can neither read the state nor plant an
entry that bpfman would later act on. Removal never follows a symlink, so
even an entry root planted by mistake cannot redirect it.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from bpfman.kernel.mounts import ensure_mounted, is_mounted
from bpfman.logs import get_logger

from .errors import BpfmanError, PermissionDeniedError, StateError

log = get_logger(__name__)
PRIVATE = 0o700
# Subdirectories of the bpffs the core pins into; plugins add their own.
CORE_DIRS = ("links", "maps")
# What the kernel itself pins in every new bpffs (bpf_preload's iterators).
KERNEL_ENTRIES = ("maps.debug", "progs.debug")


class Layout:
    """Where state and pins live under a root directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.fs = root / "fs"
        self.db = root / "db"

    def prog_pin(self, program_id: int) -> Path:
        return self.fs / f"prog_{program_id}"

    def link_pin(self, link_id: int) -> Path:
        return self.fs / "links" / str(link_id)

    def map_dir(self, owner_id: int) -> Path:
        return self.fs / "maps" / str(owner_id)

    def plugin_dir(self, name: str) -> Path:
        """A directory a plugin may pin its own objects in (dispatchers...)."""
        return self.fs / name


def private_dir(path: Path) -> None:
    """Create ``path`` (0700) or check that it is a private directory of ours.

    A directory another user owns, one others may write to, or a symlink in
    its place would let that user steer what bpfman removes: refuse it.
    """
    with contextlib.suppress(FileExistsError):
        os.mkdir(path, PRIVATE)
    try:
        st = os.lstat(path)
    except OSError as exc:
        raise StateError(f"cannot use {path}: {exc.strerror}") from None
    if not stat.S_ISDIR(st.st_mode):
        raise StateError(f"{path} is not a directory (a symlink or a file is in its place)")
    if st.st_uid != os.geteuid():
        raise PermissionDeniedError(
            f"{path} belongs to uid {st.st_uid}, not to this user: remove it or choose another root"
        )
    if st.st_mode & 0o077:
        os.chmod(path, PRIVATE)


def prepare_root(layout: Layout) -> None:
    """The private root and store directories (where the writers' lock lives).

    The bpffs is mounted later, under that lock: two first commands checking
    for a mount at once would otherwise both mount one.
    """
    private_dir(layout.root)
    private_dir(layout.db)


def mount_bpffs(layout: Layout) -> None:
    """Mount a private bpffs at ``layout.fs`` unless one is there; create the core dirs."""
    private_dir(layout.root)
    private_dir(layout.fs)
    ensure_mounted(layout.fs, "bpf", f"mode={PRIVATE:o}")
    if os.lstat(layout.fs).st_mode & 0o077:  # mounted by an older bpfman with mode 0777
        os.chmod(layout.fs, PRIVATE)
    for name in CORE_DIRS:
        private_dir(layout.fs / name)


def is_bpffs(path: Path) -> bool:
    return is_mounted(path, "bpf")


def unpin(path: Path | str) -> None:
    """Remove one pin; an already missing pin is fine. Never follows a symlink."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except IsADirectoryError:
        log.warning("not removing %s: a directory where bpfman expects a pin", path)


def unpin_link(path: Path | str, wait: float = 2.0) -> None:
    """Unpin a bpf_link and wait until the kernel has let it go.

    bpffs drops its reference only after an RCU grace period, so without the
    wait the program would still run (and a new attach to the same hook fail
    with EEXIST) for a moment after ``detach`` returned.
    """
    import time

    from bpfman import kernel

    if not is_pinned(path):
        return
    try:
        with kernel.obj_get(str(path)) as fd:
            link_id = kernel.link_info(fd.fd).id
    except BpfmanError:
        unpin(path)  # not a link after all (or already going): just unpin
        return
    unpin(path)
    deadline = time.monotonic() + wait
    while kernel.link_alive(link_id) and time.monotonic() < deadline:
        time.sleep(0.002)


def remove_tree(path: Path | str) -> None:
    """Unpin everything below ``path`` and remove the directories, bottom up.

    Symlinks are removed as entries, never followed; a missing tree is fine.
    """
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(st.st_mode):
        unpin(path)
        return
    for entry in os.scandir(path):
        if entry.is_dir(follow_symlinks=False):
            remove_tree(entry.path)
        else:
            unpin(entry.path)
    with contextlib.suppress(FileNotFoundError):
        os.rmdir(path)


def is_pinned(path: Path | str) -> bool:
    """Whether a pin (not a symlink, not a directory) is at ``path``."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    return not stat.S_ISDIR(st.st_mode) and not stat.S_ISLNK(st.st_mode)


def entries(path: Path) -> Iterator[os.DirEntry[str]]:
    """The entries of a directory of bpfman's; nothing when it is absent."""
    try:
        with os.scandir(path) as it:
            yield from it
    except FileNotFoundError:
        return
    except NotADirectoryError:
        log.warning("ignoring %s: not a directory", path)


def holds_pins(path: Path, ignore: tuple[str, ...] = KERNEL_ENTRIES) -> bool:
    """Whether any pin of bpfman's sits below ``path`` (empty directories do not count)."""
    for entry in entries(path):
        if entry.name in ignore:
            continue
        if not entry.is_dir(follow_symlinks=False) or holds_pins(Path(entry.path), ()):
            return True
    return False
