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

import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import run, shown_rows, u32_hex, u64_hex
from tests.helpers.bpftool import links_of, map_values, net_show, prog_ids
from tests.helpers.cgroup import Cgroup
from tests.helpers.chains import load_chain
from tests.helpers.consistency import Hook, problems
from tests.helpers.net import VethPair, in_netns
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


@pytest.fixture
def before() -> set[int]:
    """The programs in the kernel before the test (other roots' among them)."""
    return prog_ids()


# -- interfaces ------------------------------------------------------------------
def ifindex(netns: str, iface: str) -> int:
    return in_netns(netns, lambda: socket.if_nametoindex(iface))


def veth(netns: str, name: str, index: int | None = None) -> int:
    """A veth pair ``name``/``name``p in ``netns`` (``name`` with this ifindex if
    given), both up; the ifindex of ``name``. Deleting either end deletes both."""
    ns = os.path.basename(netns)
    at = ["index", str(index)] if index is not None else []
    run(["ip", "-n", ns, "link", "add", name, *at, "type", "veth", "peer", "name", f"{name}p"])
    for end in (name, f"{name}p"):
        run(["ip", "-n", ns, "link", "set", end, "up"])
    return ifindex(netns, name)


def delete(netns: str, iface: str) -> None:
    run(["ip", "-n", os.path.basename(netns), "link", "del", iface])


def attach_to(root: Root, kind: str, prog: int, iface: str, netns: str, prio: int) -> int:
    direction: list[Arg] = ["-d", "ingress"] if kind in ("tcx", "tc") else []
    link = root.attach(prog, kind, *direction, "-i", iface, "-p", prio, "-n", netns)
    return int(link["id"])


@dataclass
class Interfaces:
    """Three programs of one type on three veths in ns b, and one on a veth in ns a."""

    root: Root
    pair: VethPair
    kind: str
    progs: list[int]
    links: list[int]
    keep_prog: int
    keep_link: int
    before: set[int]

    @classmethod
    def attach(
        cls, root: Root, objects: Path, pair: VethPair, kind: str, before: set[int]
    ) -> Interfaces:
        owner = load_chain(root, objects, kind, 0, NEXT[kind])
        progs = [owner] + [load_chain(root, objects, kind, s, NEXT[kind], owner) for s in (1, 2)]
        links = []
        for n, prog in enumerate(progs):
            veth(pair.netns_path_b, f"gone{n}")
            links.append(attach_to(root, kind, prog, f"gone{n}", pair.netns_path_b, 100))
        veth(pair.netns_path_a, "keep0")
        keep_prog = load_chain(root, objects, kind, 3, NEXT[kind], owner)
        keep_link = attach_to(root, kind, keep_prog, "keep0", pair.netns_path_a, 100)
        for link in links:
            attached_at(root, link, 0)
        return cls(root, pair, kind, progs, links, keep_prog, keep_link, before)

    def clean_up_each_way(self, why: str) -> None:
        """The first link by detach, the second by unloading its program, the third by
        system recover; the link on the other namespace's veth stays at pos-0."""
        root = self.root
        for link in self.links:
            becomes_detached(root, link, why)
        attached_at(root, self.keep_link, 0)

        root.run("detach", self.links[0])
        assert root.fail("get", "link", self.links[0]).endswith(f"no link with id {self.links[0]}")
        root.run("unload", self.progs[1])
        recovered(root, (self.links[2], why))
        assert [r["id"] for r in root.json("list", "links")] == [self.keep_link]
        attached_at(root, self.keep_link, 0)
        loaded = {r["id"] for r in root.json("list", "programs")}
        assert loaded == {self.progs[0], self.progs[2], self.keep_prog}
        no_kernel_links(*self.progs)
        agree(root, {f"{self.kind}_chain"}, self.before, Hook("keep0", self.pair.netns_path_a))


@pytest.mark.parametrize("kind", ["tcx", "xdp", "tc"])
def test_interface_deleted(
    root: Root, objects: Path, before: set[int], pair: VethPair, kind: str
) -> None:
    hooks = Interfaces.attach(root, objects, pair, kind, before)
    for n in range(3):
        delete(pair.netns_path_b, f"gone{n}")
    hooks.clean_up_each_way("interface gone")


@pytest.mark.parametrize("kind", ["tcx", "xdp", "tc"])
def test_netns_deleted(
    root: Root, objects: Path, before: set[int], pair: VethPair, kind: str
) -> None:
    hooks = Interfaces.attach(root, objects, pair, kind, before)
    run(["ip", "netns", "delete", pair.ns_b])
    hooks.clean_up_each_way("network namespace gone")


@pytest.mark.parametrize("kind", ["tcx", "xdp", "tc"])
def test_interface_recreated_with_its_index(
    root: Root, objects: Path, before: set[int], pair: VethPair, kind: str
) -> None:
    """An interface deleted and made again with the same index in the same namespace:
    bpfman's hook key is the same, but the new links run alone and count alone."""
    ns = pair.netns_path_b
    index = veth(ns, "again0")
    owner = load_chain(root, objects, kind, 0, NEXT[kind])
    old = [attach_to(root, kind, owner, "again0", ns, 100)]
    if kind == "tcx":  # kernel-ordered: several links share the hook
        second = load_chain(root, objects, kind, 1, NEXT[kind], owner)
        old.append(attach_to(root, kind, second, "again0", ns, 50))
        attached_at(root, old[1], 0)
        attached_at(root, old[0], 1)
    delete(ns, "again0")
    for link in old:
        becomes_detached(root, link, "interface gone")

    assert veth(ns, "again0", index) == index
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
    owner: int | None = None
    progs = []
    for slot in range(3):
        share: list[Arg] = ["--map-owner-id", owner] if owner is not None else []
        prog = root.load_id(
            objects / "cgroup_chain.bpf.o",
            "--programs", "cgroup:cgroup_chain", *chain, f"prog_slot={u32_hex(slot)}", *share,
        )  # fmt: skip
        owner = owner or prog
        progs.append(prog)
    with Cgroup() as cgroup, Cgroup() as keep:
        links = [
            int(root.attach(prog, "cgroup", "-c", cgroup.path, "-p", 100 * (n + 1))["id"])
            for n, prog in enumerate(progs)
        ]
        kept = int(root.attach(progs[0], "cgroup", "-c", keep.path, "-p", 500)["id"])
        assert [row(root, link)["position"] for link in links] == [0, 1, 2]
        cgroup.close()  # rmdir: the kernel lets the links go once the cgroup is released
        for link in links:
            becomes_detached(root, link, "cgroup gone")
        attached_at(root, kept, 0)

        # The same path made again is another cgroup: a new link there is pos-0 alone.
        cgroup.path.mkdir()
        newcomer = int(root.attach(progs[1], "cgroup", "-c", cgroup.path, "-p", 150)["id"])
        attached_at(root, newcomer, 0)
        root.run("detach", links[0])
        root.run("detach", newcomer)
        recovered(root, (links[1], "cgroup gone"), (links[2], "cgroup gone"))
        attached_at(root, kept, 0)
        root.run("unload", progs[2])
        root.run("unload", progs[1])
        assert [r["id"] for r in root.json("list", "links")] == [kept]
        no_kernel_links(progs[1], progs[2])
        agree(root, {"cgroup_chain"}, before)
        root.run("unload", progs[0])


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

    root.run("detach", links[0])
    root.run("unload", progs[1])
    recovered(root, (links[2], "pin removed"))
    assert root.json("list", "links") == []
    agree(root, {spec.object}, before)


def call_getppid() -> None:
    for _ in range(5):
        os.getppid()


# -- processes and files ------------------------------------------------------------------
CHILD = """
import ctypes, sys
lib = ctypes.CDLL(sys.argv[1])
for line in sys.stdin:
    for _ in range(10):
        lib.zlibVersion()
    print("done", flush=True)
"""


class Child:
    """A process that calls zlibVersion() of the library it was given, when poked."""

    def __init__(self, library: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", CHILD, library],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.pid = self.proc.pid
        self.poke()

    def poke(self) -> None:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()
        assert self.proc.stdout.readline().strip() == "done"

    def close(self) -> None:
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def library() -> Iterator[str]:
    """A copy of libz in a directory of the test's own: its own inode to probe."""
    where = tempfile.mkdtemp(prefix="bpfman-gone-")
    libz = f"/lib/{platform.machine()}-linux-gnu/libz.so.1"
    try:
        yield shutil.copy(libz, os.path.join(where, "libz-copy.so.1"))
    finally:
        shutil.rmtree(where, ignore_errors=True)


def load_uprobe(root: Root, objects: Path) -> int:
    return root.load_id(objects / "uprobe_counter.bpf.o", "--programs", "uprobe:uprobe_counter")


def test_uprobe_target_deleted_is_not_gone(
    root: Root, objects: Path, before: set[int], library: str
) -> None:
    child = Child(library)
    try:
        prog = load_uprobe(root, objects)
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
    finally:
        child.close()


def test_uprobe_process_exited(root: Root, objects: Path, before: set[int], library: str) -> None:
    child, other = Child(library), Child(library)
    try:
        progs = [load_uprobe(root, objects) for _ in range(3)]
        links = [
            int(root.attach(p, "uprobe", "-t", library, "-f", "zlibVersion", "-p", child.pid)["id"])
            for p in progs
        ]
        kept = int(
            root.attach(progs[0], "uprobe", "-t", library, "-f", "zlibVersion", "-p", other.pid)[
                "id"
            ]
        )
        child.poke()
        assert map_values(str(root.maps(progs[0]) / "counts"))[0] == 10
        child.close()
        for link in links:
            assert shown_detached(root, link, "process exited")
        attached_at(root, kept, None)
        other.poke()
        assert map_values(str(root.maps(progs[0]) / "counts"))[0] == 20

        root.run("detach", links[0])
        root.run("unload", progs[1])
        recovered(root, (links[2], "process exited"))
        assert [r["id"] for r in root.json("list", "links")] == [kept]
        no_kernel_links(progs[1], progs[2])
        agree(root, {"uprobe_counter"}, before)
    finally:
        child.close()
        other.close()


BUSY = "import sys\nfor line in sys.stdin: pass\n"


def load_perf(root: Root, objects: Path) -> int:
    return root.load_id(
        objects / "perf_event_counter.bpf.o", "--programs", "perf_event:perf_event_counter"
    )


def test_perf_event_process_exited(root: Root, objects: Path, before: set[int]) -> None:
    child = subprocess.Popen([sys.executable, "-c", BUSY], stdin=subprocess.PIPE)
    try:
        progs = [load_perf(root, objects) for _ in range(3)]
        links = [
            int(
                root.attach(p, "perf_event", "-e", "task-clock", "-f", "100", "--pid", child.pid)[
                    "id"
                ]
            )
            for p in progs
        ]
        kept = int(root.attach(progs[0], "perf_event", "-e", "cpu-clock", "-f", "10")["id"])
        for link in links:
            attached_at(root, link, None)
        assert child.stdin is not None
        child.stdin.close()
        child.wait(timeout=10)
        for link in links:
            assert shown_detached(root, link, "process exited")
        attached_at(root, kept, None)

        root.run("detach", links[0])
        root.run("unload", progs[1])
        recovered(root, (links[2], "process exited"))
        assert [r["id"] for r in root.json("list", "links")] == [kept]
        no_kernel_links(progs[1], progs[2])
        agree(root, {"perf_event_counter"}, before)
    finally:
        child.kill()
        child.wait()


def test_perf_event_pins_removed_by_hand(root: Root, objects: Path, before: set[int]) -> None:
    progs = [load_perf(root, objects) for _ in range(3)]
    links = [int(root.attach(p, "perf_event", "-e", "cpu-clock", "-f", "10")["id"]) for p in progs]
    for link in links:
        pins = root.path / "fs" / "perf_event" / str(link)
        for pin in pins.iterdir():
            os.unlink(pin)
    no_kernel_links(*progs)
    for link in links:
        assert shown_detached(root, link, "pin removed")
    root.run("detach", links[0])
    root.run("unload", progs[1])
    recovered(root, (links[2], "pin removed"))
    assert root.json("list", "links") == []
    agree(root, {"perf_event_counter"}, before)
