"""Stores of one path in one process share an LMDB environment (LMDB refuses a
second open), and a file set aside by recovery is never used again."""

from __future__ import annotations

import os
from pathlib import Path

from bpfman.core.bpffs import Layout
from bpfman.core.state import _OPEN, Store


def test_stores_share_and_a_forgotten_environment_is_reopened(tmp_path: Path) -> None:
    db = tmp_path / "db"
    db.mkdir()
    key = os.path.realpath(db)  # other tests' stores may be open in this process too
    first, second = Store(Layout(tmp_path).db), Store(Layout(tmp_path).db)
    with first.locked():
        first.prepare(lambda: True)
    shared = first._open()
    assert second._open() is shared and _OPEN[key].users == 2
    first.close(forget=True)  # what set_aside does before it moves the file
    assert key not in _OPEN
    assert second._open() is not shared  # the other store maps the file anew
    second.close()
    second.close()  # twice is harmless
    first.close()
    assert key not in _OPEN
