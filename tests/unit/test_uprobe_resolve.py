"""Finding the file a uprobe target names (bpfman/plugins/uprobe/resolve.py).

The dynamic linker's cache is parsed from crafted bytes: glibc's 1.1 format,
a 48-byte header then 24-byte entries whose name and path are offsets into a
string table, counted from the header's start.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest

from bpfman.errors import InvalidInputError, NotFoundError
from bpfman.plugins.uprobe import resolve
from bpfman.plugins.uprobe.resolve import ld_cache_entries, resolve_target
from tests.helpers.raises import refused

MAGIC = b"glibc-ld.so.cache1.1"
HEADER = 48
ENTRY = struct.Struct("<iIIIQ")  # flags, key, value, osversion, hwcap


def ld_cache(
    entries: list[tuple[str, str]], before: bytes = b"", nlibs: int | None = None
) -> bytes:
    """A cache holding ``entries``; ``before`` stands for an old-format part ahead of it."""
    table = HEADER + ENTRY.size * len(entries)
    strings = b""
    rows = b""
    for name, path in entries:
        key = table + len(strings)
        strings += name.encode() + b"\0"
        value = table + len(strings)
        strings += path.encode() + b"\0"
        rows += ENTRY.pack(0x0303, key, value, 0, 0)
    count = len(entries) if nlibs is None else nlibs
    header = struct.pack("<20sII", MAGIC, count, len(strings)).ljust(HEADER, b"\0")
    return before + header + rows + strings


LIBS = [("libc.so.6", "/lib/x86_64-linux-gnu/libc.so.6"), ("libz.so.1", "/usr/lib/libz.so.1")]


def test_entries_of_a_crafted_cache() -> None:
    assert ld_cache_entries(ld_cache(LIBS)) == LIBS


def test_an_old_format_part_before_the_header_is_skipped() -> None:
    assert ld_cache_entries(ld_cache(LIBS, before=b"ld.so-1.7.0" + bytes(37))) == LIBS


@pytest.mark.parametrize(
    "data",
    [b"", b"not a cache at all", MAGIC, ld_cache(LIBS)[: HEADER - 1], ld_cache([])],
    ids=["empty", "no-magic", "magic-only", "short-header", "no-entries"],
)
def test_nothing_usable_gives_no_entries(data: bytes) -> None:
    assert ld_cache_entries(data) == []


def test_a_count_past_the_end_reads_only_what_is_there() -> None:
    data = ld_cache(LIBS, nlibs=1000)
    assert ld_cache_entries(data) == LIBS  # rows past the table hold no valid offsets
    # Cut inside the second row: the first row is read, but the strings are gone.
    assert ld_cache_entries(data[: HEADER + ENTRY.size + 5]) == []


def test_entries_pointing_outside_or_unterminated_are_skipped() -> None:
    data = bytearray(ld_cache(LIBS))
    ENTRY.pack_into(data, HEADER, 0x0303, len(data) + 100, len(data) + 200, 0, 0)  # outside
    assert ld_cache_entries(bytes(data)) == LIBS[1:]
    unterminated = ld_cache(LIBS)[:-1]  # the last path loses its NUL
    assert ld_cache_entries(unterminated) == LIBS[:1]


def test_names_are_decoded_leniently() -> None:
    data = ld_cache([("libX.so", "/x")]).replace(b"libX", b"lib\xff")
    assert ld_cache_entries(data) == [("lib\ufffd.so", "/x")]


def test_this_hosts_cache_has_libc() -> None:
    entries = ld_cache_entries(Path(resolve.LD_SO_CACHE).read_bytes())
    assert any(name == "libc.so.6" for name, _ in entries)


def test_a_library_name_resolves_through_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lib = tmp_path / "libdemo.so.1"
    lib.write_bytes(b"\x7fELF")
    cache = tmp_path / "ld.so.cache"
    cache.write_bytes(ld_cache([("libdemo.so.1", str(lib)), ("libdemo-extra.so", "/nope")]))
    monkeypatch.setattr(resolve, "LD_SO_CACHE", str(cache))
    assert resolve_target("libdemo") == str(lib)
    assert resolve_target("libdemo.so.1") == str(lib)
    with refused(
        f"uprobe target 'libother' not found in {cache}; give an absolute path", NotFoundError
    ):
        resolve_target("libother")
    with refused("uprobe target libdemo-extra not found", NotFoundError):
        resolve_target("libdemo-extra")  # listed, but its file is gone


def test_a_missing_cache_finds_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(resolve, "LD_SO_CACHE", str(tmp_path / "absent"))
    with pytest.raises(NotFoundError, match="not found in"):
        resolve_target("libc")


def test_paths(tmp_path: Path) -> None:
    target = tmp_path / "prog"
    target.write_bytes(b"")
    assert resolve_target(str(target)) == str(target)
    with refused(f"uprobe target {tmp_path / 'absent'} not found", NotFoundError):
        resolve_target(str(tmp_path / "absent"))
    with refused(f"uprobe target {tmp_path} is not a regular file", InvalidInputError):
        resolve_target(str(tmp_path))


def test_a_library_name_with_a_pid_resolves_through_its_maps() -> None:
    pid = os.getpid()
    found = resolve_target("libc", pid)
    assert found.startswith(f"/proc/{pid}/root/") and Path(found).name.startswith("libc")
    with refused(f"uprobe target 'libnosuch' not found in the maps of pid {pid}", NotFoundError):
        resolve_target("libnosuch", pid)


def test_a_pid_that_does_not_exist() -> None:
    gone = int(Path("/proc/sys/kernel/pid_max").read_text()) + 1
    with refused(f"no process with pid {gone}", NotFoundError):
        resolve_target("libc", gone)
