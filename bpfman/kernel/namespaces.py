"""Entering network and mount namespaces for the duration of a kernel call.

Interfaces are resolved and hooks attached in the namespace the user names
(``--netns``) or, without one, in the caller's own; uprobe targets are
resolved in a container's mount namespace. A :class:`NetnsRef` remembers a
network namespace by its identity (device and inode of its nsfs file), so a
later ``detach`` or ``unload`` re-enters the same namespace from wherever it
is run, and can tell when that namespace is really gone. setns(2) switches
only the calling thread, so threads of one process (the service) never
disturb each other.
"""

from __future__ import annotations

import errno
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from bpfman.errors import InvalidInputError, KernelError, NotFoundError, PermissionDeniedError

T = TypeVar("T")
CLONE_FS = 0x00000200
CLONE_NEWNS = 0x00020000
CLONE_NEWNET = 0x40000000
_NS_GET_NSTYPE = 0xB703
_KINDS = {CLONE_NEWNET: "network", CLONE_NEWNS: "mount"}
_NAMED_NETNS_DIRS = ("/run/netns", "/var/run/netns")

_LIBC: Any = None


def _libc_call(name: str, *args: int) -> int:
    """libc's ``name`` through ctypes: 0, or the errno it failed with.

    ctypes is imported on the first call (it and its helpers cost ``load`` more than
    its own work), and libc is the one this process runs on: no library search.
    """
    import ctypes

    global _LIBC
    if _LIBC is None:
        _LIBC = ctypes.CDLL(None, use_errno=True)
    return 0 if getattr(_LIBC, name)(*args) == 0 else ctypes.get_errno()


def _setns(fd: int, nstype: int, path: str) -> None:
    err = _libc_call("setns", fd, nstype)
    if err:
        kind = _KINDS[nstype]
        if err == errno.EPERM:
            needs = "CAP_SYS_ADMIN and CAP_SYS_CHROOT" if kind == "mount" else "CAP_SYS_ADMIN"
            raise PermissionDeniedError(
                f"cannot enter {kind} namespace {path}: operation not permitted (needs {needs})"
            )
        if err == errno.EINVAL:
            raise InvalidInputError(f"{path} is not a {kind} namespace")
        raise KernelError(f"setns {path}", err)


def open_ns(path: str, kind: str = "network") -> int:
    """Open a namespace file; every failure is one line naming the path."""
    try:
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise NotFoundError(f"{kind} namespace {path} not found") from None
    except PermissionError:
        raise PermissionDeniedError(
            f"cannot open {kind} namespace {path}: permission denied"
        ) from None
    except OSError as exc:
        raise KernelError(f"open {kind} namespace {path}", exc.errno or errno.EIO) from None


def _is_netns(fd: int) -> bool:
    """Whether ``fd`` is a network namespace (ioctl NS_GET_NSTYPE, Linux >= 4.11)."""
    import fcntl

    try:
        return fcntl.ioctl(fd, _NS_GET_NSTYPE) == CLONE_NEWNET
    except OSError:
        return False


@dataclass(frozen=True)
class NetnsRef:
    """A network namespace, by identity; ``path`` is what the user named, if anything."""

    path: str | None
    dev: int
    inode: int

    @classmethod
    def of(cls, path: str | None) -> NetnsRef:
        """The namespace at ``path``, or the caller's own when None."""
        fd = open_ns(path or "/proc/self/ns/net")
        try:
            if not _is_netns(fd):
                raise InvalidInputError(f"{path} is not a network namespace")
            st = os.fstat(fd)
        finally:
            os.close(fd)
        return cls(path, st.st_dev, st.st_ino)

    def to_record(self) -> dict[str, Any]:
        return {"path": self.path, "dev": self.dev, "inode": self.inode}

    @classmethod
    def from_record(cls, value: Any) -> NetnsRef:
        """A recorded reference; a bare path string is what older records hold."""
        if isinstance(value, dict):
            return cls(value.get("path"), int(value["dev"]), int(value["inode"]))
        return cls.of(value)

    def __str__(self) -> str:
        return self.path or f"net:[{self.inode}]"

    def path_gone(self) -> bool:
        """Whether the path it was given by (``-n``) no longer leads to it (``ip netns del``)."""
        return self.path is not None and not self._matches(self.path)

    def _matches(self, path: str) -> bool:
        try:
            st = os.stat(path)
        except OSError:
            return False
        return (st.st_dev, st.st_ino) == (self.dev, self.inode)

    def _find(self) -> str | None:
        """A path to this namespace now: the one given, a named netns, or a process's."""
        candidates = [self.path] if self.path else []
        for directory in _NAMED_NETNS_DIRS:
            try:
                candidates += [os.path.join(directory, name) for name in os.listdir(directory)]
            except OSError:
                continue
        for path in candidates:
            if self._matches(path):
                return path
        for pid in os.listdir("/proc"):
            if pid.isdigit() and self._matches(f"/proc/{pid}/ns/net"):
                return f"/proc/{pid}/ns/net"
        return None

    def is_current(self) -> bool:
        return self._matches("/proc/thread-self/ns/net")

    @contextmanager
    def entered(self) -> Iterator[None]:
        """Run the body inside this namespace; NotFoundError if it is gone."""
        if self.is_current():
            yield
            return
        path = self._find()
        if path is None:
            raise NotFoundError(f"network namespace {self} is gone")
        with _entered(path, CLONE_NEWNET, "/proc/thread-self/ns/net"):
            yield


def reachable_netns() -> list[NetnsRef]:
    """Every network namespace that can be entered now: named ones, then processes'.

    Recovery looks for bpfman's unpinned objects (TC filters) in each.
    """
    found: dict[tuple[int, int], NetnsRef] = {}
    paths = [
        os.path.join(d, name)
        for d in _NAMED_NETNS_DIRS
        if os.path.isdir(d)
        for name in os.listdir(d)
    ]
    paths += [f"/proc/{pid}/ns/net" for pid in os.listdir("/proc") if pid.isdigit()]
    for path in paths:
        try:
            st = os.stat(path)
        except OSError:
            continue
        named = not path.startswith("/proc/")
        key = (st.st_dev, st.st_ino)
        if key not in found or (named and found[key].path is None):
            found[key] = NetnsRef(path if named else None, st.st_dev, st.st_ino)
    return list(found.values())


@contextmanager
def _entered(path: str, nstype: int, own_path: str) -> Iterator[None]:
    target = open_ns(path, _KINDS[nstype])
    own = os.open(own_path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        _setns(target, nstype, path)
        try:
            yield
        finally:
            _setns(own, nstype, own_path)
    finally:
        os.close(target)
        os.close(own)


@contextmanager
def netns(path: str | None) -> Iterator[None]:
    """Run the body inside the network namespace at ``path`` (None: stay)."""
    if path is None:
        yield
        return
    with _entered(path, CLONE_NEWNET, "/proc/thread-self/ns/net"):
        yield


HOST_PROC_ENV = "BPFMAN_HOST_PROC"
# Where bpfman-operator's DaemonSet mounts the host's /proc (volume host-proc).
HOST_PROC = "/host/proc"


def host_proc(pid: int) -> str:
    """The procfs that shows host process ``pid``: ours, else the host's mounted in a pod.

    In bpfman-operator's pod bpfman does not share the host's pid namespace, and
    a container pid is the host's: it is found under the host's /proc, which
    the DaemonSet mounts at /host/proc (``BPFMAN_HOST_PROC`` moves it).
    """
    for proc in ("/proc", os.environ.get(HOST_PROC_ENV) or HOST_PROC):
        if os.path.exists(f"{proc}/{pid}"):
            return proc
    raise NotFoundError(f"no process with pid {pid}")


def in_mount_namespace(pid: int, work: Callable[[], T]) -> T:
    """Call ``work`` inside the mount namespace of process ``pid``; return its result.

    A thread cannot join a mount namespace while it shares its filesystem
    attributes with other threads, so the work runs in a short-lived thread
    that stops sharing them first (unshare CLONE_FS); the caller's own view
    of the filesystem never changes. File descriptors opened there stay valid.
    """
    path = f"{host_proc(pid)}/{pid}/ns/mnt"
    result: list[T] = []
    failure: list[BaseException] = []

    def body() -> None:
        try:
            err = _libc_call("unshare", CLONE_FS)
            if err:
                raise KernelError("unshare CLONE_FS", err)
            fd = open_ns(path, "mount")
            try:
                _setns(fd, CLONE_NEWNS, path)
            finally:
                os.close(fd)
            result.append(work())
        except BaseException as exc:  # handed to the calling thread below
            failure.append(exc)

    thread = threading.Thread(target=body, name=f"mountns-{pid}")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return result[0]
