"""Objects removed behind bpfman's back, for every attach type this kernel allows.

Each test attaches real programs to a real interface, namespace, cgroup, process
or file it makes, removes that (or a link's pin) with the system's own tools, and
checks from outside that:

- ``list links``, ``get link`` and their JSON say the link is detached and why,
  and a detached link holds no position: the live ones on its hook renumber;
- ``detach``, ``unload`` and ``system recover`` (which says what it removed)
  clean it up, each once, and then kernel, bpffs and state agree;
- what did not go away stays attached and keeps its position.

What is "gone": a link whose interface, network namespace or cgroup went, whose
pin root removed by hand, or whose process (uprobe and perf_event ``--pid``)
exited. A uprobe whose target file was deleted is not: the probe sits on the
file's inode and still fires in the processes that map it.

xdp and tc run in direct mode here (one program per hook: this kernel refuses
freplace); the dispatcher path is tested the same way in the VM lane
(tests/test_vm_gone.py).
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from subprocess import PIPE
from typing import Any

import pytest

from tests.helpers import run, shown_rows, u32_hex, u64_hex
from tests.helpers.bpftool import links_of, map_values, net_show, prog_ids
from tests.helpers.cgroup import Cgroup
from tests.helpers.chains import load_chain
from tests.helpers.child import Poked
from tests.helpers.consistency import Hook, problems
from tests.helpers.net import VethPair, add_veth, delete_link
from tests.helpers.root import Arg, Root
from tests.helpers.wait import eventually

NEXT = {"tcx": -1, "xdp": 2, "tc": 0}  # TCX_NEXT, XDP_PASS, TC_ACT_OK: let packets on
GETPPID = {"x86_64": 110, "aarch64": 173}[platform.machine()]


# -- what every test checks ------------------------------------------------------
def row(root: Root, link_id: int) -> dict[str, Any]:
    rows: list[dict[str, Any]] = root.json("list", "links")
    found = [r for r in rows if r["id"] == link_id]
    assert len(found) == 1, rows
    return found[0]


def shown_detached(root: Root, link_id: int, why: str) -> bool:
    """Whether list links (table and JSON) and get link (text and JSON) say so."""
    listed = row(root, link_id)
    if listed["detached"] != why:
        return False
    assert listed["position"] is None
    assert listed["attachment"].endswith(f" (detached: {why})")
    assert "pos-" not in listed["attachment"]
    table = root.run("list", "links").stdout
    assert any(
        f"{link_id} " in line and f"(detached: {why})" in line for line in table.splitlines()
    )
    text = shown_rows(root.run("get", "link", link_id).stdout)
    assert text["Detached"] == why and "Position" not in text
    got = root.json("get", "link", link_id)
    assert (got["detached"], got["position"]) == (why, None)
    return True


def becomes_detached(root: Root, link_id: int, why: str) -> None:
    """The kernel lets go asynchronously (netns and cgroup teardown run in workers)."""
    assert eventually(lambda: shown_detached(root, link_id, why), timeout=20), row(root, link_id)


def attached_at(root: Root, link_id: int, position: int | None) -> None:
    listed = row(root, link_id)
    assert (listed["detached"], listed["position"]) == (None, position), listed


def recovered(root: Root, *gone: tuple[int, str]) -> None:
    """``system recover`` removes exactly these links and says why, then finds nothing."""
    lines = root.run("system", "recover").stdout.splitlines()
    assert len(lines) == len(gone), lines
    for link_id, why in gone:
        assert any(f"link {link_id} " in line and line.endswith(why) for line in lines), lines
    assert root.run("system", "recover").stdout.strip() == "state and kernel agree: nothing to do"
    listed = {r["id"] for r in root.json("list", "links")}
    assert not listed & {link_id for link_id, _ in gone}


def no_kernel_links(*progs: int) -> None:
    assert eventually(lambda: not links_of(*progs)), links_of(*progs)


def agree(root: Root, names: set[str], before: set[int], *hooks: Hook) -> None:
    """Kernel, bpffs and state agree; no program of ``names`` but those of ``before``
    is left in the kernel without a record."""
    assert problems(root.path, list(hooks), names, before) == []


@dataclass
class Gone:
    """Three programs, each with one link about to lose what it hangs on, and the
    links that must stay attached (of other programs) with their positions."""

    root: Root
    progs: list[int]
    links: list[int]
    kept: dict[int, int | None]

    def clean_up_each_way(self, why: str, names: set[str], before: set[int], *hooks: Hook) -> None:
        """The first link goes by detach, the second by unloading its program, the third
        by system recover; the kept links stay where they were; then all agree."""
        root, links = self.root, self.links
        root.run("detach", links[0])
        assert root.fail("get", "link", links[0]).endswith(f"no link with id {links[0]}")
        root.run("unload", self.progs[1])
        recovered(root, (links[2], why))
        assert sorted(r["id"] for r in root.json("list", "links")) == sorted(self.kept)
        for link, position in self.kept.items():
            attached_at(root, link, position)
        loaded = {r["id"] for r in root.json("list", "programs")}
        assert self.progs[1] not in loaded and {self.progs[0], self.progs[2]} <= loaded
        no_kernel_links(*self.progs)
        agree(root, names, before, *hooks)


@pytest.fixture
def before() -> set[int]:
    """The programs in the kernel before the test (other roots' among them)."""
    return prog_ids()


# -- interfaces ------------------------------------------------------------------
def attach_to(root: Root, kind: str, prog: int, iface: str, netns: str, prio: int) -> int:
    direction: list[Arg] = ["-d", "ingress"] if kind in ("tcx", "tc") else []
    link = root.attach(prog, kind, *direction, "-i", iface, "-p", prio, "-n", netns)
    return int(link["id"])


def on_interfaces(root: Root, objects: Path, pair: VethPair, kind: str) -> Gone:
    """Three programs of one type on three veths in ns b, one more on a veth in ns a."""
    owner = load_chain(root, objects, kind, 0, NEXT[kind])
    progs = [owner] + [load_chain(root, objects, kind, s, NEXT[kind], owner) for s in (1, 2, 3)]
    links = []
    for n, prog in enumerate(progs[:3]):
        add_veth(pair.netns_path_b, f"gone{n}")
        links.append(attach_to(root, kind, prog, f"gone{n}", pair.netns_path_b, 100))
        attached_at(root, links[-1], 0)
    add_veth(pair.netns_path_a, "keep0")
    kept = attach_to(root, kind, progs[3], "keep0", pair.netns_path_a, 100)
    return Gone(root, progs[:3], links, {kept: 0})


def interfaces_gone(gone: Gone, kind: str, why: str, before: set[int], pair: VethPair) -> None:
    for link in gone.links:
        becomes_detached(gone.root, link, why)
    for link, position in gone.kept.items():
        attached_at(gone.root, link, position)
    gone.clean_up_each_way(why, {f"{kind}_chain"}, before, Hook("keep0", pair.netns_path_a))


@pytest.mark.parametrize("kind", ["tcx", "xdp", "tc"])
def test_interface_deleted(
    root: Root, objects: Path, before: set[int], pair: VethPair, kind: str
) -> None:
    gone = on_interfaces(root, objects, pair, kind)
    for n in range(3):
        delete_link(pair.netns_path_b, f"gone{n}")
    interfaces_gone(gone, kind, "interface gone", before, pair)


@pytest.mark.parametrize("kind", ["tcx", "xdp", "tc"])
def test_netns_deleted(
    root: Root, objects: Path, before: set[int], pair: VethPair, kind: str
) -> None:
    gone = on_interfaces(root, objects, pair, kind)
    run(["ip", "netns", "delete", pair.ns_b])
    interfaces_gone(gone, kind, "network namespace gone", before, pair)


@pytest.mark.parametrize("kind", ["tcx", "xdp", "tc"])
def test_interface_recreated_with_its_index(
    root: Root, objects: Path, before: set[int], pair: VethPair, kind: str
) -> None:
    """An interface deleted and made again with the same index in the same namespace:
    bpfman's hook key is the same, but the new links run alone and count alone."""
    ns = pair.netns_path_b
    index = add_veth(ns, "again0")
    owner = load_chain(root, objects, kind, 0, NEXT[kind])
    old = [attach_to(root, kind, owner, "again0", ns, 100)]
    if kind == "tcx":  # kernel-ordered: several links share the hook
        second = load_chain(root, objects, kind, 1, NEXT[kind], owner)
        old.append(attach_to(root, kind, second, "again0", ns, 50))
        attached_at(root, old[1], 0)
        attached_at(root, old[0], 1)
    delete_link(ns, "again0")
    for link in old:
        becomes_detached(root, link, "interface gone")

    assert add_veth(ns, "again0", index) == index
    newcomer = load_chain(root, objects, kind, 2, NEXT[kind], owner)
    direction: list[Arg] = ["-d", "ingress"] if kind in ("tcx", "tc") else []
    proc = root.run(
        "attach", "--output", "json", newcomer, kind, *direction, "-i", "again0", "-p", 75, "-n", ns
    )
    new = int(json.loads(proc.stdout)["id"])
    attached_at(root, new, 0)  # before the old links' priorities 50 and 100: pos-0 still
    shown = net_show("again0", ns)
    running = {
        "tcx": [e["prog_id"] for e in shown["tcx"]],
        "xdp": [e["id"] for e in shown["xdp"]],
        "tc": [e["id"] for e in shown["tc"]],
    }[kind]
    assert running == [newcomer]
    positions = [r["position"] for r in root.json("list", "links") if r["detached"] is None]
    assert positions == [0]

    if kind == "tcx":  # no hook state to collide with: they wait for a detach or recover
        for link in old:
            assert row(root, link)["detached"] == "detached outside bpfman"
        recovered(root, *((link, "detached outside bpfman") for link in old))
    else:  # the hook starts afresh: its old link is dropped, and the attach says so
        assert f"link {old[0]}: its {kind} hook is gone" in proc.stderr
    assert [r["id"] for r in root.json("list", "links")] == [new]
    root.run("detach", new)
    no_kernel_links(owner, newcomer)
    agree(root, {f"{kind}_chain"}, before, Hook("again0", ns))


# -- cgroups -------------------------------------------------------------------------
def test_cgroup_removed(root: Root, objects: Path, before: set[int]) -> None:
    port = (12345).to_bytes(2, "little").hex()
    chain = ["-g", f"verdict={u32_hex(1)}", f"udp_port={port}"]
    progs: list[int] = []
    for slot in range(4):
        share: list[Arg] = ["--map-owner-id", progs[0]] if progs else []
        args = ["--programs", "cgroup:cgroup_chain", *chain, f"prog_slot={u32_hex(slot)}", *share]
        progs.append(root.load_id(objects / "cgroup_chain.bpf.o", *args))
    with Cgroup() as cgroup, Cgroup() as keep:
        links = [
            int(root.attach(prog, "cgroup", "-c", cgroup.path, "-p", 100 * (n + 1))["id"])
            for n, prog in enumerate(progs[:3])
        ]
        kept = int(root.attach(progs[3], "cgroup", "-c", keep.path, "-p", 500)["id"])
        assert [row(root, link)["position"] for link in links] == [0, 1, 2]
        cgroup.close()  # rmdir: the kernel lets the links go once the cgroup is released
        for link in links:
            becomes_detached(root, link, "cgroup gone")
        attached_at(root, kept, 0)

        # The same path made again is another cgroup: a new link there is pos-0 alone,
        # where the old links showed pos-0, pos-1 and pos-2 beside it.
        cgroup.path.mkdir()
        newcomer = int(root.attach(progs[3], "cgroup", "-c", cgroup.path, "-p", 150)["id"])
        attached_at(root, newcomer, 0)
        gone = Gone(root, progs[:3], links, {kept: 0, newcomer: 0})
        gone.clean_up_each_way("cgroup gone", {"cgroup_chain"}, before)


# -- links pinned alone: only their pin can be taken away ---------------------------
@dataclass(frozen=True)
class Single:
    """A type whose link hangs on nothing bpfman could lose but its pin; each of
    these programs counts this process's getppid() calls."""

    object: str
    type: str
    attach: tuple[str, ...]
    globals: tuple[str, ...]


PINNED = {
    "tracepoint": Single(
        "tracepoint_counter", "tracepoint", ("-t", "syscalls/sys_enter_getppid"),
        (f"target_pid={u32_hex(os.getpid())}",),
    ),
    "raw_tracepoint": Single(
        "raw_tp_counter", "raw_tracepoint", ("-t", "sys_enter"),
        (f"target_pid={u32_hex(os.getpid())}", f"syscall_nr={u64_hex(GETPPID)}"),
    ),
    "tp_btf": Single(
        "tp_btf_counter", "tp_btf", (),
        (f"target_pid={u32_hex(os.getpid())}", f"syscall_nr={u64_hex(GETPPID)}"),
    ),
    "uprobe": Single(
        "uprobe_counter", "uprobe", ("-t", "libc", "-f", "getppid"),
        (f"target_pid={u32_hex(os.getpid())}",),
    ),
}  # fmt: skip


@pytest.mark.parametrize("kind", sorted(PINNED))
def test_pin_removed_by_hand(root: Root, objects: Path, before: set[int], kind: str) -> None:
    spec = PINNED[kind]
    progs, links = [], []
    for _ in range(3):
        prog = root.load_id(
            objects / f"{spec.object}.bpf.o",
            "--programs", f"{spec.type}:{spec.object}", "-g", *spec.globals,
        )  # fmt: skip
        progs.append(prog)
        links.append(int(root.attach(prog, spec.type, *spec.attach)["id"]))
    counts = [str(root.maps(p) / "counts") for p in progs]
    call_getppid()
    assert all(map_values(c)[0] > 0 for c in counts)

    for link in links:
        os.unlink(root.path / "fs" / "links" / str(link))
    no_kernel_links(*progs)
    for link in links:
        assert shown_detached(root, link, "pin removed")
    counted = [map_values(c)[0] for c in counts]
    call_getppid()
    assert [map_values(c)[0] for c in counts] == counted  # detached indeed
    Gone(root, progs, links, {}).clean_up_each_way("pin removed", {spec.object}, before)


def call_getppid() -> None:
    for _ in range(5):
        os.getppid()


# -- processes and files ------------------------------------------------------------------
# Calls zlibVersion() of the library it is given (its own copy) ten times per poke.
CHILD = """
import ctypes, sys
lib = ctypes.CDLL(sys.argv[1])
for line in sys.stdin:
    for _ in range(10):
        lib.zlibVersion()
    print("done", flush=True)
"""


@pytest.fixture
def library() -> Iterator[str]:
    """A copy of libz in a directory of the test's own: its own inode to probe."""
    where = tempfile.mkdtemp(prefix="bpfman-gone-")
    libz = f"/lib/{platform.machine()}-linux-gnu/libz.so.1"
    try:
        yield shutil.copy(libz, os.path.join(where, "libz-copy.so.1"))
    finally:
        shutil.rmtree(where, ignore_errors=True)


@contextlib.contextmanager
def calling(library: str) -> Iterator[Poked]:
    child = Poked(CHILD, library)
    try:
        child.poke()  # the library is mapped before any probe exists
        yield child
    finally:
        child.close()


def load(root: Root, objects: Path, kind: str, count: int) -> list[int]:
    obj = {"uprobe": "uprobe_counter", "perf_event": "perf_event_counter"}[kind]
    return [
        root.load_id(objects / f"{obj}.bpf.o", "--programs", f"{kind}:{obj}") for _ in range(count)
    ]


def test_uprobe_target_deleted_is_not_gone(
    root: Root, objects: Path, before: set[int], library: str
) -> None:
    with calling(library) as child:
        [prog] = load(root, objects, "uprobe", 1)
        link = int(root.attach(prog, "uprobe", "-t", library, "-f", "zlibVersion")["id"])
        counts = str(root.maps(prog) / "counts")
        child.poke()
        assert map_values(counts)[0] == 10

        os.unlink(library)
        attached_at(root, link, None)
        child.poke()  # the process still maps the deleted file: the probe still fires
        assert map_values(counts)[0] == 20
        assert root.run("system", "recover").stdout.strip().endswith("nothing to do")
        root.run("detach", link)
        child.poke()
        assert map_values(counts)[0] == 20
        no_kernel_links(prog)
        agree(root, {"uprobe_counter"}, before)


def test_uprobe_process_exited(root: Root, objects: Path, before: set[int], library: str) -> None:
    with calling(library) as child, calling(library) as other:
        progs = load(root, objects, "uprobe", 4)
        probe: list[Arg] = ["uprobe", "-t", library, "-f", "zlibVersion", "-p"]
        links = [int(root.attach(p, *probe, child.pid)["id"]) for p in progs[:3]]
        kept = int(root.attach(progs[3], *probe, other.pid)["id"])
        child.poke()
        assert map_values(str(root.maps(progs[0]) / "counts"))[0] == 10
        child.close()
        for link in links:
            assert shown_detached(root, link, "process exited")
        other.poke()
        assert map_values(str(root.maps(progs[3]) / "counts"))[0] == 10
        gone = Gone(root, progs[:3], links, {kept: None})
        gone.clean_up_each_way("process exited", {"uprobe_counter"}, before)


def test_perf_event_process_exited(root: Root, objects: Path, before: set[int]) -> None:
    child = subprocess.Popen([sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=PIPE)
    try:
        progs = load(root, objects, "perf_event", 4)
        sample: list[Arg] = ["perf_event", "-e", "task-clock", "-f", "100", "--pid", child.pid]
        links = [int(root.attach(p, *sample)["id"]) for p in progs[:3]]
        kept = int(root.attach(progs[3], "perf_event", "-e", "cpu-clock", "-f", "10")["id"])
        for link in links:
            attached_at(root, link, None)
        assert child.stdin is not None
        child.stdin.close()
        child.wait(timeout=10)
        for link in links:
            assert shown_detached(root, link, "process exited")
        gone = Gone(root, progs[:3], links, {kept: None})
        gone.clean_up_each_way("process exited", {"perf_event_counter"}, before)
    finally:
        child.kill()
        child.wait()


def test_perf_event_pins_removed_by_hand(root: Root, objects: Path, before: set[int]) -> None:
    progs = load(root, objects, "perf_event", 3)
    links = [int(root.attach(p, "perf_event", "-e", "cpu-clock", "-f", "10")["id"]) for p in progs]
    for link in links:
        for pin in (root.path / "fs" / "perf_event" / str(link)).iterdir():
            os.unlink(pin)
    no_kernel_links(*progs)
    for link in links:
        assert shown_detached(root, link, "pin removed")
    Gone(root, progs, links, {}).clean_up_each_way("pin removed", {"perf_event_counter"}, before)
