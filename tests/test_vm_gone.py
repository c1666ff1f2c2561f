"""Links removed behind bpfman's back, in the VM lane: xdp and tc through a dispatcher
(the guests allow freplace), and netkit (the 6.12 guest).

The host's tests/test_gone.py covers every other type, and xdp and tc in direct
mode. Here several links share one dispatcher hook: when its interface goes, all
of them are detached, the first detach drops the hook and the others with it, and
an attach to the same interface made again with the same index starts afresh.
The guests are emulated and slow: the library is used in-process, the CLI once.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bpfman.core.manager import Bpfman
from tests.helpers.bpftool import links_of, mprog_query, net_show, prog_ids, prog_show
from tests.helpers.consistency import Hook, problems
from tests.helpers.net import VethPair, add_veth, delete_link, in_netns
from tests.helpers.netkit import NETKIT_PRIMARY, NetkitPair
from tests.helpers.root import Root
from tests.helpers.wait import eventually

pytestmark = pytest.mark.vm
NEXT = {"xdp": 2, "tc": 0, "netkit": -1}  # XDP_PASS, TC_ACT_OK, TCX_NEXT
GONE = "interface gone"


@pytest.fixture
def mgr(root: Root) -> Iterator[Bpfman]:
    manager = root.manager()
    try:
        yield manager
    finally:
        manager.close()


def load(mgr: Bpfman, objects: Path, kind: str, count: int) -> list[int]:
    """``count`` chain programs of ``kind`` sharing the first one's maps."""
    obj = "tcx" if kind == "netkit" else kind
    ids: list[int] = []
    for slot in range(count):
        [record] = mgr.load_file(
            objects / f"{obj}_chain.bpf.o",
            [f"{kind}:{obj}_chain"],
            globals={
                "prog_slot": struct.pack("<i", slot),
                "verdict": struct.pack("<i", NEXT[kind]),
            },
            map_owner_id=ids[0] if ids else None,
        )
        ids.append(record.id)
    return ids


def shown(mgr: Bpfman) -> dict[int, tuple[int | None, str | None]]:
    """link id -> (position, why detached), as list links says."""
    return {d.link.id: (d.position, d.detached) for d in mgr.list_links()}


def running(kind: str, iface: str, netns: str) -> list[str]:
    """Names of the programs the interface's hook runs (a dispatcher: one)."""
    entries: list[dict[str, Any]] = net_show(iface, netns)[kind]
    return [prog_show(e["id"])["name"] for e in entries]


@pytest.mark.parametrize("kind", ["xdp", "tc"])
def test_dispatcher_interface_deleted_and_made_again(
    root: Root, mgr: Bpfman, objects: Path, pair: VethPair, kind: str
) -> None:
    ns = pair.netns_path_b
    on = {"netns": ns, **({"direction": "ingress"} if kind == "tc" else {})}
    index = add_veth(ns, "gone0")
    progs = load(mgr, objects, kind, 4)
    before = prog_ids()  # this process holds the template dispatcher it loaded them with
    links = [
        mgr.attach(prog, {**on, "iface": "gone0", "priority": prio}).id
        for prog, prio in zip(progs, (300, 100, 200), strict=False)
    ]
    keep = mgr.attach(progs[3], {**on, "iface": pair.if_b, "priority": 100}).id
    assert shown(mgr) == {
        links[0]: (2, None),
        links[1]: (0, None),
        links[2]: (1, None),
        keep: (0, None),
    }
    assert running(kind, "gone0", ns) == [f"{kind}_dispatcher"]

    delete_link(ns, "gone0")
    assert eventually(lambda: shown(mgr) == {**{ln: (None, GONE) for ln in links}, keep: (0, None)})
    table = root.run("list", "links").stdout
    assert sum("(detached: interface gone)" in line for line in table.splitlines()) == 3

    # One detach drops the hook, and its other links with it (they ran on it).
    proc = root.run("detach", links[0], apart=True)  # in a process of its own: its stderr
    for other in links[1:]:
        assert f"link {other}: its {kind} hook is gone" in proc.stderr
    assert shown(mgr) == {keep: (0, None)}

    # Made again with the same index: the same hook key, a new chain alone on it.
    add_veth(ns, "gone0", index)
    again = mgr.attach(progs[1], {**on, "iface": "gone0", "priority": 150}).id
    assert shown(mgr) == {again: (0, None), keep: (0, None)}
    assert running(kind, "gone0", ns) == [f"{kind}_dispatcher"]

    # Gone and made again before anything cleaned up: the attach drops the dead hook.
    delete_link(ns, "gone0")
    assert eventually(lambda: shown(mgr)[again] == (None, GONE))
    add_veth(ns, "gone0", index)
    newer = mgr.attach(progs[2], {**on, "iface": "gone0", "priority": 150}).id
    assert shown(mgr) == {newer: (0, None), keep: (0, None)}
    assert running(kind, "gone0", ns) == [f"{kind}_dispatcher"]

    # And system recover removes what went last, saying so.
    delete_link(ns, "gone0")
    assert eventually(lambda: shown(mgr)[newer] == (None, GONE))
    lines = mgr.recover()
    assert len(lines) == 1 and f"link {newer} " in lines[0] and lines[0].endswith(GONE), lines
    assert shown(mgr) == {keep: (0, None)}
    assert eventually(lambda: not links_of(*progs[:3]))
    assert problems(root.path, [Hook(pair.if_b, ns)], {f"{kind}_chain"}, before) == []


@pytest.mark.min_kernel("6.12")
def test_netkit_device_deleted(root: Root, mgr: Bpfman, objects: Path) -> None:
    before = prog_ids()
    with NetkitPair() as pair:
        on = {"iface": pair.if_a, "direction": "primary", "netns": pair.netns_path_a}
        progs = load(mgr, objects, "netkit", 3)
        links = [mgr.attach(p, {**on, "priority": 10 * (n + 1)}).id for n, p in enumerate(progs)]
        ifindex = in_netns(pair.ns_a, lambda: socket.if_nametoindex(pair.if_a))
        assert in_netns(pair.ns_a, lambda: mprog_query(ifindex, NETKIT_PRIMARY)) == progs
        assert {ln: pos for ln, (pos, _) in shown(mgr).items()} == {
            ln: n for n, ln in enumerate(links)
        }

        delete_link(pair.netns_path_a, pair.if_a)  # the peer goes with it
        assert eventually(lambda: shown(mgr) == {ln: (None, GONE) for ln in links})
        mgr.detach(links[0])
        mgr.unload(progs[1])
        lines = mgr.recover()
        assert len(lines) == 1 and f"link {links[2]} " in lines[0], lines
        assert shown(mgr) == {}
        assert eventually(lambda: not links_of(*progs))
        assert problems(root.path, [], {"tcx_chain"}, before) == []
