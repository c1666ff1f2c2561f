"""bpfman's root directory, its own bpffs, and the pin paths inside it.

Everything bpfman keeps alive in the kernel is pinned under one bpffs mount
below its root directory, so a separate root (tests, a second instance) never
collides with another one. The root, the store and the bpffs are root's
alone (0700): an unprivileged user can neither read the state nor plant an
entry that bpfman would later act on. Removal never follows a symlink, so
even an entry root planted by mistake cannot redirect it.

The root's path is trusted only as a whole (:func:`.trust.trusted_root`): a user
who owns any directory above it could rename the root away. And bpfman acts
only on recorded paths inside its own bpffs (:meth:`Layout.confine`), so a
forged or older record cannot point a removal anywhere else.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from bpfman.errors import BpfmanError, PermissionDeniedError, StateError
from bpfman.kernel.mounts import ensure_mounted, is_mounted
from bpfman.logs import get_logger

from . import root as names
from .trust import PRIVATE, trusted_root

log = get_logger(__name__)
# Subdirectories of the bpffs the core pins into; plugins add their own.
CORE_DIRS = (names.LINKS, "maps")
# What a root holds (bpfman's own entries): the store, the bpffs, the image cache, the
# plugin cache, the config file, the CSI driver's sockets and volumes, the relays.
ROOT_ENTRIES = frozenset(
    {names.DB, names.FS, names.IMAGES, names.PLUGINS_CACHE, names.CONFIG,
     names.CSI_SOCKET.partition("/")[0], names.CSI_VOLUMES, "csi-grpc", names.RELAY}
)  # fmt: skip
# What the kernel itself pins in every new bpffs (bpf_preload's iterators).
KERNEL_ENTRIES = ("maps.debug", "progs.debug")


class Layout:
    """Every path under a root directory, from the names in :mod:`.root`.

    ``fs/`` is bpfman's bpffs (its pins below); ``db/`` the LMDB store, with
    the writers' lock ``db/writer.lock``; ``bpfman.toml`` the configuration;
    ``plugins.cache`` the plugin entry points discovery found; ``images/`` the
    image store; ``csi/csi.sock`` and ``csi-volumes/`` the CSI node plugin's
    socket and volumes; ``relay/`` the gRPC servers' private socket directories.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.fs = root / names.FS
        self.links = self.fs / names.LINKS
        self.db = root / names.DB
        self.lock = self.db / names.LOCK_FILE
        self.config = root / names.CONFIG
        self.plugins_cache = root / names.PLUGINS_CACHE
        self.images = root / names.IMAGES
        self.csi_socket = root / names.CSI_SOCKET
        self.csi_volumes = root / names.CSI_VOLUMES
        self.relay = root / names.RELAY

    def resolved(self) -> Layout:
        """This layout with the root's symlinks resolved, as mountinfo shows its paths."""
        return Layout(Path(os.path.realpath(self.root)))

    def prog_pin(self, program_id: int) -> Path:
        return self.fs / f"prog_{program_id}"

    def link_pin(self, link_id: int) -> Path:
        return self.fs / "links" / str(link_id)

    def map_dir(self, owner_id: int) -> Path:
        return self.fs / "maps" / str(owner_id)

    def plugin_dir(self, name: str) -> Path:
        """A directory a plugin may pin its own objects in (dispatchers...)."""
        return self.fs / name

    def confine(self, recorded: object) -> Path:
        """The place a recorded path names, strictly inside this root's bpffs.

        Older versions recorded paths relative to where a command ran when the
        root was given relative (``state/fs/maps/7`` for ``--root state``):
        such a path is re-anchored here when its part up to ``fs`` can only
        be this root. Anything else outside the bpffs is refused.
        """
        if not isinstance(recorded, str) or not recorded or "\0" in recorded:
            raise StateError(f"a record holds {recorded!r} where a path belongs; {self._remedy}")
        path = Path(os.path.normpath(recorded))
        if not path.is_absolute():
            path = self._reanchored(path, recorded)
        if self.fs not in path.parents:
            raise StateError(
                f"refusing to act on {recorded}: a record points outside bpfman's bpffs "
                f"{self.fs}; {self._remedy}"
            )
        return path

    def _reanchored(self, path: Path, recorded: str) -> Path:
        """``path`` (relative, normalised) under the bpffs, if only one reading fits."""
        parts = path.parts
        while parts[:1] == ("..",):
            parts = parts[1:]
        tail = self.root.parts[1:]
        found = {
            self.fs.joinpath(*parts[i + 1 :])
            for i, name in enumerate(parts)
            if name == "fs" and i + 1 < len(parts) and tail[len(tail) - i :] == parts[:i]
        }
        if len(found) != 1:
            raise StateError(
                f"cannot tell where {recorded} is: an older bpfman recorded it relative to the "
                f"directory it ran in; {self._remedy}"
            )
        return found.pop()

    @property
    def _remedy(self) -> str:
        """What to do about a record bpfman will not act on."""
        return (
            f"move {self.db}/data.mdb aside, then `bpfman system recover --adopt` "
            "records again what the bpffs holds"
        )


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

    The root's path is checked again as it is created: a directory made
    since the root was first resolved must be as trusted as the rest. The
    bpffs is mounted later, under that lock: two first commands checking
    for a mount at once would otherwise both mount one.
    """
    now = Path(trusted_root(layout.root, create=True))
    if now != layout.root:
        raise StateError(f"the root {layout.root} leads to {now} now: run the command again")
    _refuse_foreign_root(layout)
    private_dir(layout.root)
    private_dir(layout.db)


def _refuse_foreign_root(layout: Layout) -> None:
    """Refuse to make someone else's directory private (``--root /etc`` must not chmod /etc).

    ``private_dir`` narrows an existing root to 0700; that is only right for a
    directory holding nothing but what a bpfman root holds (an older bpfman's root,
    or entries another user planted there, which the checks of each refuse).
    """
    mode = stat.S_IMODE(os.lstat(layout.root).st_mode)
    foreign = sorted(e.name for e in entries(layout.root) if e.name not in ROOT_ENTRIES)
    if not mode & 0o077 or not foreign:
        return
    raise PermissionDeniedError(
        f"refusing root {layout.root}: it holds other files ({', '.join(foreign[:3])}) and "
        f"others may read it (mode {mode:o}); choose an empty directory, or one of bpfman's own"
    )


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
