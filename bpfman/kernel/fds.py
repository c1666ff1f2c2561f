"""Owned file descriptors and the bpffs/ID calls that produce them."""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from types import TracebackType
from typing import Self

from bpfman.errors import NotFoundError
from bpfman.kernel.errcheck import check
from bpfman.kernel.lib import binding, capture_libbpf_messages


class Closing:
    """``with`` closes the object (file descriptors, libbpf objects)."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class Fd(Closing):
    """A file descriptor we own: closed once, by :meth:`close` or ``with``."""

    __slots__ = ("_fd",)

    def __init__(self, fd: int) -> None:
        self._fd = fd

    @property
    def fd(self) -> int:
        if self._fd < 0:
            raise ValueError("file descriptor is closed")
        return self._fd

    @property
    def closed(self) -> bool:
        return self._fd < 0

    def __int__(self) -> int:
        return self.fd

    def close(self) -> None:
        if self._fd >= 0:
            fd, self._fd = self._fd, -1
            os.close(fd)

    def __repr__(self) -> str:
        return f"Fd({self._fd})"


def obj_pin(fd: int, path: str) -> None:
    """Pin a program, map or link on bpffs so it outlives this process."""
    with capture_libbpf_messages() as messages:
        rc = binding().bpf.bpf_obj_pin(fd, os.fsencode(path))
    check(rc, f"pin {path}", messages)


def obj_get(path: str) -> Fd:
    """Open the object pinned at ``path``."""
    rc = binding().bpf.bpf_obj_get(os.fsencode(path))
    return _opened(rc, f"nothing is pinned at {path}", f"open pin {path}")


def prog_fd_by_id(prog_id: int) -> Fd:
    """A new fd for the loaded program with this kernel ID."""
    rc = binding().bpf.bpf_prog_get_fd_by_id(prog_id)
    return _opened(rc, f"no program with id {prog_id}", f"open program {prog_id}")


def map_fd_by_id(map_id: int) -> Fd:
    """A new fd for the map with this kernel ID."""
    rc = binding().bpf.bpf_map_get_fd_by_id(map_id)
    return _opened(rc, f"no map with id {map_id}", f"open map {map_id}")


def _opened(rc: int, missing: str, doing: str) -> Fd:
    """The fd libbpf returned; NotFoundError(``missing``) when there was nothing to open."""
    if rc == -errno.ENOENT:
        raise NotFoundError(missing)
    return Fd(check(rc, doing))


def link_alive(link_id: int) -> bool:
    """Whether the kernel still holds the bpf_link with this id."""
    rc = binding().bpf.bpf_link_get_fd_by_id(link_id)
    if rc == -errno.ENOENT:
        return False
    Fd(check(rc, f"open link {link_id}")).close()
    return True


def iter_prog_ids() -> Iterator[int]:
    """Every loaded program's ID, ascending."""
    b = binding()
    next_id = b.ffi.new("__u32 *")
    current = 0
    while True:
        rc = b.bpf.bpf_prog_get_next_id(current, next_id)
        if rc == -errno.ENOENT:
            return
        check(rc, "list programs")
        current = int(next_id[0])
        yield current
