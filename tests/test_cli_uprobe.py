"""uprobe and uretprobe on libc's getpid(), called by a child process the test drives.

The child calls ``libc.getpid`` through ctypes CALLS times per line it reads, so
the test decides exactly when the probes fire. ``target_pid`` is set to the
child's pid, so other processes calling getpid() never count.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.bpftool import links_of, map_values, prog_ids
from tests.helpers.child import Poked
from tests.helpers.root import Root, le32
from tests.helpers.wait import eventually

CALLS = 20
CHILD = f"""
import ctypes, sys
libc = ctypes.CDLL("libc.so.6")
for line in sys.stdin:
    for _ in range({CALLS}):
        libc.getpid()
    print("done", flush=True)
"""


@pytest.fixture
def child() -> Iterator[Poked]:
    """A process that calls getpid() CALLS times whenever it is poked."""
    c = Poked(CHILD)
    try:
        c.poke()  # libc is mapped and the interpreter warmed up before probes exist
        yield c
    finally:
        c.close()


def libc_path(pid: int) -> str:
    with open(f"/proc/{pid}/maps") as maps:
        for line in maps:
            path = line.split()[-1]
            if path.startswith("/") and Path(path).name.startswith("libc.so"):
                return path
    raise AssertionError("child has no libc mapped")


def test_uprobe_and_uretprobe_on_libc_getpid(root: Root, objects: Path, child: Poked) -> None:
    loaded = root.load(
        objects / "uprobe_counter.bpf.o",
        "--programs",
        "uprobe:uprobe_counter",
        "uprobe:uretprobe_counter",
        "-g",
        f"target_pid={le32(child.pid)}",
    )
    ids = {p["bpfman"]["function"]: p["id"] for p in loaded}
    entry, ret = ids["uprobe_counter"], ids["uretprobe_counter"]
    pin = str(root.maps(entry) / "counts")

    # Library name through ld.so.cache, and an absolute path with a PID filter.
    entry_link = root.attach(entry, "uprobe", "-t", "libc", "-f", "getpid")
    path = libc_path(child.pid)
    ret_link = root.attach(ret, "uprobe", "-t", path, "-f", "getpid", "-p", child.pid)
    assert entry_link["attachment"] == "libc getpid"
    assert ret_link["attachment"] == f"{path} getpid"

    child.poke()
    assert map_values(pin) == {0: CALLS, 1: CALLS}

    shown = root.run("get", "link", ret_link["id"]).stdout
    rows = [line.split(":", 1)[0].strip() for line in shown.splitlines()[2:]]
    assert rows == [
        "BPF Function",
        "Program Type",
        "Program ID",
        "Link ID",
        "Target",
        "Attach Function",
        "Offset",
        "PID",
        "Container PID",
        "Metadata",
    ]
    assert f" Target:           {path}" in shown
    assert " Attach Function:  getpid" in shown
    assert f" PID:              {child.pid}" in shown
    assert " Container PID:    None" in shown
    entry_shown = root.run("get", "link", entry_link["id"]).stdout
    assert " Target:           libc" in entry_shown
    assert " PID:              None" in entry_shown

    # Detached probes stop counting; a library name with -p resolves through /proc/PID/maps.
    root.run("detach", entry_link["id"])
    root.run("detach", ret_link["id"])
    assert eventually(lambda: not links_of(entry, ret))
    child.poke()
    assert map_values(pin) == {0: CALLS, 1: CALLS}
    by_pid = root.attach(entry, "uprobe", "-t", "libc", "-f", "getpid", "-p", child.pid)
    assert by_pid["attachment"] == "libc getpid"
    child.poke()
    assert map_values(pin) == {0: 2 * CALLS, 1: CALLS}

    root.run("unload", entry)
    root.run("unload", ret)
    assert eventually(lambda: not {entry, ret} & prog_ids())
    assert not root.maps(entry).exists()
    assert root.json("list", "links") == []


def test_uprobe_unknown_function_and_target_leave_nothing(
    root: Root, objects: Path, child: Poked
) -> None:
    prog_id = root.load_id(objects / "uprobe_counter.bpf.o", "--programs", "uprobe:uprobe_counter")
    message = root.fail("attach", prog_id, "uprobe", "-t", "libc", "-f", "no_such_function_xyz")
    assert "no_such_function_xyz" in message
    message = root.fail("attach", prog_id, "uprobe", "-t", "libnosuchlib", "-f", "getpid")
    assert "libnosuchlib" in message
    message = root.fail("attach", prog_id, "uprobe", "-t", "/nonexistent/libc.so.6", "-f", "getpid")
    assert "/nonexistent/libc.so.6" in message
    assert root.json("list", "links") == []
    links = root.path / "fs" / "links"
    assert not links.exists() or list(links.iterdir()) == []
