"""Entering network and mount namespaces for the duration of a kernel call.

Interfaces are resolved and hooks attached in the namespace the user names
(``--netns``); uprobe targets are resolved in a container's mount namespace.
bpfman is single-threaded, so switching the calling thread is safe.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
from collections.abc import Iterator
from contextlib import contextmanager

from bpfman.core.errors import BpfmanError, NotFoundError, PermissionDeniedError

CLONE_FS = 0x00000200
CLONE_NEWNS = 0x00020000
CLONE_NEWNET = 0x40000000

_libc: ctypes.CDLL | None = None


def _libc_handle() -> ctypes.CDLL:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    return _libc


def _own_fs() -> None:
    """Give this thread its own root/cwd, as entering a mount namespace requires.

    The kernel refuses setns(CLONE_NEWNS) (EINVAL) while the fs_struct is
    shared, which it is between the threads of a process (the gRPC service's
    workers); unsharing it affects this thread alone and needs no privilege.
    """
    if _libc_handle().unshare(CLONE_FS) != 0:
        raise BpfmanError(f"unshare(CLONE_FS) failed: {os.strerror(ctypes.get_errno())}")


def _setns(fd: int, nstype: int) -> None:
    if _libc_handle().setns(fd, nstype) != 0:
        err = ctypes.get_errno()
        if err == 1:
            raise PermissionDeniedError("cannot enter namespace: must be run as root")
        raise BpfmanError(f"setns failed: {os.strerror(err)}")


def open_ns(path: str) -> int:
    try:
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise NotFoundError(f"network namespace {path} not found") from None
    except OSError as exc:
        raise NotFoundError(f"cannot open namespace {path}: {exc.strerror}") from None


def ns_inode(path: str) -> int:
    """The namespace's inode number: its identity across paths."""
    try:
        return os.stat(path).st_ino
    except OSError:
        raise NotFoundError(f"network namespace {path} not found") from None


@contextmanager
def netns(path: str | None) -> Iterator[None]:
    """Run the body inside the network namespace at ``path`` (None: stay)."""
    if path is None:
        yield
        return
    target = open_ns(path)
    own = os.open("/proc/self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        _setns(target, CLONE_NEWNET)
        try:
            yield
        finally:
            _setns(own, CLONE_NEWNET)
    finally:
        os.close(target)
        os.close(own)


@contextmanager
def mountns_of(pid: int) -> Iterator[None]:
    """Run the body inside the mount namespace of process ``pid``."""
    try:
        target = os.open(f"/proc/{pid}/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise NotFoundError(f"no process with pid {pid}") from None
    own = os.open("/proc/self/ns/mnt", os.O_RDONLY | os.O_CLOEXEC)
    cwd = os.open(".", os.O_RDONLY | os.O_CLOEXEC)
    try:
        _own_fs()
        _setns(target, CLONE_NEWNS)
        try:
            yield
        finally:
            _setns(own, CLONE_NEWNS)
            os.fchdir(cwd)
    finally:
        for fd in (target, own, cwd):
            os.close(fd)
