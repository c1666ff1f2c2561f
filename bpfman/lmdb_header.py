"""Checking an LMDB data file's meta pages before LMDB maps it.

LMDB trusts the file it maps; this reads the two meta pages by LMDB's on-disk
layout (magic, newest transaction, last page) so that a damaged store is
refused with a message instead of a SIGBUS.
"""

from __future__ import annotations

import os
import struct

from bpfman.errors import CorruptStateError
from bpfman.kernel.limits import FD_ERRNOS, fd_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from os import PathLike

    Given = str | PathLike[str]

_LMDB_MAGIC = 0xBEEFC0DE
_META = struct.Struct("<QHHHHII")  # page head (pgno, pad, flags, lower, upper) + magic, version
_LAST_PAGE = struct.Struct("<QQ")  # mm_last_pg, mm_txnid, right after the two MDB_db records
_LAST_PAGE_OFFSET = 16 + 4 + 4 + 8 + 8 + 2 * 48


def check_data_file(path: Given) -> int:
    """Validate an LMDB data file before mapping it; return its size.

    LMDB maps the file and trusts its meta pages: a truncated file makes the
    first read past its end a SIGBUS that kills the process before it can
    say anything. Reading the two meta pages ourselves turns that into an
    error naming the file.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except FileNotFoundError:
        return 0
    except OSError as exc:
        if exc.errno in FD_ERRNOS:  # not damage: no fd was left to open it
            raise fd_error(f"open the state store {path}", exc.errno) from None
        raise CorruptStateError(f"cannot open state store {path}: {exc.strerror}") from None
    try:
        page = os.sysconf("SC_PAGE_SIZE")
        # Meta pages first, size second: a writer committing in between only grows
        # the file, while the other order could see a new meta beyond an old size.
        head = os.pread(fd, 2 * page, 0)
        size = os.fstat(fd).st_size
    finally:
        os.close(fd)
    if size == 0:
        return 0
    best: tuple[int, int] | None = None  # (txnid, last page) of the newest valid meta
    for at in (0, page):
        if len(head) < at + _LAST_PAGE_OFFSET + _LAST_PAGE.size:
            continue
        *_, magic, _version = _META.unpack_from(head, at)
        if magic != _LMDB_MAGIC:
            continue
        last_page, txnid = _LAST_PAGE.unpack_from(head, at + _LAST_PAGE_OFFSET)
        if best is None or txnid > best[0]:
            best = (txnid, last_page)
    if best is None:
        raise CorruptStateError(corrupt_message(path, "no valid LMDB header"))
    if size < (best[1] + 1) * page:
        raise CorruptStateError(corrupt_message(path, f"truncated to {size} bytes"))
    return size


def corrupt_message(path: Given, why: str) -> str:
    """The one line for a store that cannot be read, with the way out."""
    return (
        f"state store {path} is corrupt ({why}): run `bpfman system recover` to rebuild it "
        f"from what bpffs holds"
    )
