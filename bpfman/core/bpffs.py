"""bpfman's root directory, its own bpffs, and the pin paths inside it.

Everything bpfman keeps alive in the kernel is pinned under one bpffs mount
below its root directory, so a separate root (tests, a second instance) never
collides with another one. The root, the store and the bpffs are root's
alone (0700): an unprivileged user can neither read the state nor plant an
entry that bpfman would later act on. Removal never follows a symlink, so
even an entry root planted by mistake cannot redirect it.

The root's path is trusted only as a whole (:func:`trusted_root`): a user
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
from typing import NamedTuple

from bpfman.errors import BpfmanError, PermissionDeniedError, StateError
from bpfman.kernel.mounts import ensure_mounted, is_mounted
from bpfman.logs import get_logger

log = get_logger(__name__)
PRIVATE = 0o700
MAX_SYMLINKS = 40  # as the kernel's path walk
# Subdirectories of the bpffs the core pins into; plugins add their own.
CORE_DIRS = ("links", "maps")
# What a root holds (bpfman's own entries): the store, the bpffs, the image cache, the
# plugin cache, the config file, the CSI driver's sockets and volumes, the relays.
ROOT_ENTRIES = frozenset(
    {"db", "fs", "images", "plugins.cache", "bpfman.toml", "csi", "csi-volumes", "csi-grpc",
     "relay"}
)  # fmt: skip
# What the kernel itself pins in every new bpffs (bpf_preload's iterators).
KERNEL_ENTRIES = ("maps.debug", "progs.debug")


class Layout:
    """Every path under a root directory: the one place their names are written.

    ``fs/`` is bpfman's bpffs (its pins below); ``db/`` the LMDB store, with
    the writers' lock ``db/writer.lock``; ``bpfman.toml`` the configuration;
    ``plugins.cache`` the plugin entry points discovery found; ``images/`` the
    image store; ``csi/csi.sock`` and ``csi-volumes/`` the CSI node plugin's
    socket and volumes; ``relay/`` the gRPC servers' private socket directories.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.fs = root / "fs"
        self.db = root / "db"
        self.lock = self.db / "writer.lock"
        self.config = root / "bpfman.toml"
        self.plugins_cache = root / "plugins.cache"
        self.images = root / "images"
        # bpfman-operator's DaemonSet mounts the registrar's socket directory at csi/.
        self.csi_socket = root / "csi" / "csi.sock"
        self.csi_volumes = root / "csi-volumes"
        self.relay = root / "relay"

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


def trusted_root(given: Path | str, create: bool = False) -> Path:
    """``given`` made absolute, with trusted symlinks resolved; refuses a path others steer.

    Every directory from ``/`` down must belong to root or this user and,
    above the root itself, be writable by nobody else unless sticky
    (``/tmp``): otherwise its owner or writers could rename the root away and
    put another in its place. A symlink is followed only when root or this
    user owns it (its directory is checked already): ``/var/run -> /run``
    works, one another user planted does not. With ``create``, missing
    directories are made (0700), each checked like the others; without it
    (a reader) nothing is created and the missing rest is returned as is.
    """
    return trusted_path(given, Trust("root"), create)


class Trust(NamedTuple):
    """What a checked path is for, as :func:`trusted_path` reads and reports it.

    :param what: its name in messages (``root``, ``socket directory``).
    :param mode: the mode of directories made on the way.
    :param leave_last: the last component is the caller's to check (the socket
        directory, which may be a pod's shared emptyDir): it is neither checked,
        followed nor made, only put after the checked path above it.
    """

    what: str
    mode: int = PRIVATE
    leave_last: bool = False


def trusted_path(given: Path | str, trust: Trust, create: bool = False) -> Path:
    """:func:`trusted_root`'s walk, for any directory bpfman keeps something in."""
    what = trust.what
    try:
        pending = _components(os.path.join(os.getcwd(), given))
    except OSError as exc:
        raise StateError(f"cannot use {what} {given}: {exc.strerror}") from None
    current = Path("/")
    _check_component(given, trust, current, os.lstat(current), last=False)
    followed = 0
    while pending:
        if trust.leave_last and len(pending) == 1 and pending[0] != "..":
            return current / pending[0]
        name = pending.pop()
        if name == "..":
            current = current.parent
            continue
        here = current / name
        try:
            st = _lstat_or_create(given, trust, here, pending, create)
        except FileNotFoundError:
            return here.joinpath(*reversed(pending))
        if stat.S_ISLNK(st.st_mode):
            _check_component(given, trust, here, st, last=False)
            followed += 1
            if followed > MAX_SYMLINKS:
                raise StateError(f"cannot use {what} {given}: too many levels of symbolic links")
            target = os.readlink(here)
            pending += _components(target)
            if target.startswith("/"):
                current = Path("/")
            continue
        if not stat.S_ISDIR(st.st_mode):
            raise StateError(f"cannot use {what} {given}: {here} is not a directory")
        _check_component(given, trust, here, st, last=not pending)
        current = here
    if current == Path("/"):
        raise StateError(f"cannot use / as bpfman's {what}: choose a directory of its own")
    _check_component(given, trust, current, os.lstat(current), last=True)  # reached through ".."?
    return current


def _components(path: str) -> list[str]:
    """The names of ``path``, last first (a stack), without empty and ``.`` ones."""
    return [part for part in reversed(path.split("/")) if part not in ("", ".")]


def _lstat_or_create(
    given: Path | str, trust: Trust, here: Path, pending: list[str], create: bool
) -> os.stat_result:
    """``here``'s lstat; a missing directory is made with ``create`` (FileNotFoundError without)."""
    what = trust.what
    try:
        return os.lstat(here)
    except FileNotFoundError:
        if ".." in pending:  # "missing/.." names nothing that exists or can be made
            raise StateError(f"cannot use {what} {given}: {here} does not exist") from None
        if not create:
            raise
    except OSError as exc:
        raise StateError(f"cannot use {what} {given}: {here}: {exc.strerror}") from None
    try:
        with contextlib.suppress(FileExistsError):
            os.mkdir(here, trust.mode)
        return os.lstat(here)
    except OSError as exc:
        raise StateError(f"cannot create {what} {given}: {here}: {exc.strerror}") from None


def _check_component(
    given: Path | str, trust: Trust, path: Path, st: os.stat_result, last: bool
) -> None:
    """Refuse a component of the path that another user could change."""
    what = trust.what
    link = stat.S_ISLNK(st.st_mode)
    if st.st_uid not in (0, os.geteuid()):
        could = "point it elsewhere" if link else "move what bpfman keeps there"
        raise PermissionDeniedError(
            f"refusing {what} {given}: {path} belongs to uid {st.st_uid}, who could {could}; "
            f"choose a {what} whose every directory belongs to root"
        )
    mode = stat.S_IMODE(st.st_mode)
    if link or not mode & 0o022:
        return
    if last and mode & stat.S_ISVTX:
        raise PermissionDeniedError(
            f"refusing {what} {given}: {path} is a shared directory (mode {mode:o}); "
            "choose a directory of bpfman's own"
        )
    if not last and not mode & stat.S_ISVTX:
        raise PermissionDeniedError(
            f"refusing {what} {given}: {path} is writable by group or others (mode {mode:o}), "
            "who could move what bpfman keeps there"
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
    now = trusted_root(layout.root, create=True)
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
