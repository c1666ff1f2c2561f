"""kprobe/kretprobe and fentry/fexit, in the VM lane.

The host kernel has no kprobes and refuses tracing programs, so these run in
the QEMU guest (Debian's 6.1 kernel). Each probe fires on real unlink() calls
made by this process and is counted in a map read with bpftool. The guest is
emulated and slow, so most steps use the library API in-process and the CLI
is exercised once per type.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

from bpfman.core.manager import Bpfman
from bpfman.errors import InvalidInputError, KernelError, NotFoundError
from bpfman.plugins.fentry.options import FexitParams
from tests.helpers.bpftool import map_values
from tests.helpers.root import Root

pytestmark = pytest.mark.vm
UNLINKS = 7


@pytest.fixture
def mgr(root: Root) -> Iterator[Bpfman]:
    manager = Bpfman(root.path)
    try:
        yield manager
    finally:
        manager.close()


def _pid_global() -> dict[str, bytes]:
    return {"target_pid": struct.pack("<I", os.getpid())}


def _unlink_files(tmp_path: Path, count: int) -> None:
    for i in range(count):
        path = tmp_path / f"victim-{i}"
        path.write_text("x")
        os.unlink(path)


def _counts(root: Root, owner: int) -> dict[int, int]:
    return map_values(str(root.maps(owner) / "counts"))


def _pinned_links(root: Root) -> list[Path]:
    links = root.path / "fs" / "links"
    return list(links.iterdir()) if links.exists() else []


def test_kprobe_and_kretprobe_count_real_calls(
    root: Root, mgr: Bpfman, objects: Path, tmp_path: Path
) -> None:
    entry, ret = mgr.load_file(
        objects / "kprobe_counter.bpf.o",
        ["kprobe:kprobe_counter", "kprobe:kretprobe_counter"],
        globals=_pid_global(),
    )
    first = root.attach(entry.id, "kprobe", "-f", "do_unlinkat")
    second = mgr.attach(ret.id, {"fn_name": "do_unlinkat"})
    assert first["attachment"] == "do_unlinkat"
    assert first["params"]["retprobe"] is False and second.params["retprobe"] is True

    _unlink_files(tmp_path, UNLINKS)
    assert _counts(root, entry.id) == {0: UNLINKS, 1: UNLINKS}

    with pytest.raises(InvalidInputError, match="not allowed for kretprobes"):
        mgr.attach(ret.id, {"fn_name": "do_unlinkat", "offset": 4})

    root.run("detach", first["id"], apart=True)  # another process: its unpin is not counted
    _unlink_files(tmp_path, 2)
    assert _counts(root, entry.id) == {0: UNLINKS, 1: UNLINKS + 2}

    mgr.unload(entry.id)
    mgr.unload(ret.id)
    assert _pinned_links(root) == []


def test_kprobe_unknown_function_leaves_nothing(root: Root, mgr: Bpfman, objects: Path) -> None:
    [entry] = mgr.load_file(objects / "kprobe_counter.bpf.o", ["kprobe:kprobe_counter"])
    with pytest.raises((KernelError, NotFoundError)):
        mgr.attach(entry.id, {"fn_name": "no_such_function_bpfman"})
    assert mgr.list_links() == []
    assert _pinned_links(root) == []


def test_fentry_and_fexit_count_real_calls(
    root: Root, mgr: Bpfman, objects: Path, tmp_path: Path
) -> None:
    entry, exit_ = mgr.load_file(
        objects / "fentry_counter.bpf.o",
        ["fentry:test_fentry:do_unlinkat", "fexit:test_fexit:do_unlinkat"],
        globals=_pid_global(),
    )
    details = mgr.get_program(entry.id)
    assert details.kernel is not None and details.kernel.type_name == "tracing"

    link = root.attach(entry.id, "fentry")
    assert link["attachment"] == "do_unlinkat"
    mgr.attach(exit_.id, FexitParams())

    _unlink_files(tmp_path, UNLINKS)
    assert _counts(root, entry.id) == {0: UNLINKS, 1: UNLINKS}

    with pytest.raises(InvalidInputError, match="fentry"):
        mgr.attach(entry.id, FexitParams())
    mgr.unload(entry.id)
    mgr.unload(exit_.id)
    assert mgr.list_programs() == []


def test_fentry_unknown_target_leaves_nothing(mgr: Bpfman, objects: Path) -> None:
    with pytest.raises((KernelError, NotFoundError, InvalidInputError), match="no_such_function"):
        mgr.load_file(
            objects / "fentry_counter.bpf.o", ["fentry:test_fentry:no_such_function_bpfman"]
        )
    assert mgr.list_programs() == []
