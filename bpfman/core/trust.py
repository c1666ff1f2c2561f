"""Whether a directory bpfman keeps something in can be trusted, walked from ``/``.

A user who owns any directory above bpfman's root could rename the root away
and put another in its place, so a root's path is trusted only as a whole.
Every command checks it first, ``list`` too, so this walk imports nothing
beyond ``os`` and works on strings (:mod:`pathlib` alone costs a ``list`` a
fifth of its time); :mod:`.bpffs` and the socket code hand it their paths.
"""

from __future__ import annotations

import contextlib
import os
import stat

from bpfman.errors import PermissionDeniedError, StateError

PRIVATE = 0o700
MAX_SYMLINKS = 40  # as the kernel's path walk

TYPE_CHECKING = False
if TYPE_CHECKING:
    from os import PathLike

    Given = str | PathLike[str]


class Trust:
    """What a checked path is for, as :func:`trusted_path` reads and reports it.

    :param what: its name in messages (``root``, ``socket directory``).
    :param mode: the mode of directories made on the way.
    :param leave_last: the last component is the caller's to check (the socket
        directory, which may be a pod's shared emptyDir): it is neither checked,
        followed nor made, only put after the checked path above it.
    """

    __slots__ = ("leave_last", "mode", "what")

    def __init__(self, what: str, mode: int = PRIVATE, leave_last: bool = False) -> None:
        self.what, self.mode, self.leave_last = what, mode, leave_last


def trusted_root(given: Given, create: bool = False) -> str:
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


def trusted_path(given: Given, trust: Trust, create: bool = False) -> str:
    """:func:`trusted_root`'s walk, for any directory bpfman keeps something in."""
    what = trust.what
    try:
        pending = _components(os.path.join(os.getcwd(), given))
    except OSError as exc:
        raise StateError(f"cannot use {what} {given}: {exc.strerror}") from None
    current = "/"
    _check_component(given, trust, current, os.lstat(current), last=False)
    followed = 0
    while pending:
        if trust.leave_last and len(pending) == 1 and pending[0] != "..":
            return os.path.join(current, pending[0])
        name = pending.pop()
        if name == "..":
            current = os.path.dirname(current)
            continue
        here = os.path.join(current, name)
        try:
            st = _lstat_or_create(given, trust, here, pending, create)
        except FileNotFoundError:
            return os.path.join(here, *reversed(pending))
        if stat.S_ISLNK(st.st_mode):
            _check_component(given, trust, here, st, last=False)
            followed += 1
            if followed > MAX_SYMLINKS:
                raise StateError(f"cannot use {what} {given}: too many levels of symbolic links")
            target = os.readlink(here)
            pending += _components(target)
            if target.startswith("/"):
                current = "/"
            continue
        if not stat.S_ISDIR(st.st_mode):
            raise StateError(f"cannot use {what} {given}: {here} is not a directory")
        _check_component(given, trust, here, st, last=not pending)
        current = here
    if current == "/":
        raise StateError(f"cannot use / as bpfman's {what}: choose a directory of its own")
    _check_component(given, trust, current, os.lstat(current), last=True)  # reached through ".."?
    return current


def _components(path: str) -> list[str]:
    """The names of ``path``, last first (a stack), without empty and ``.`` ones."""
    return [part for part in reversed(path.split("/")) if part not in ("", ".")]


def _lstat_or_create(
    given: Given, trust: Trust, here: str, pending: list[str], create: bool
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


def _check_component(given: Given, trust: Trust, path: str, st: os.stat_result, last: bool) -> None:
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
