"""lsm, tp_btf and netkit in the VM lane, on a guest kernel >= 6.12.

These types need what Debian 12's own kernel (6.1) lacks -- netkit is 6.7, and
the host kernel has no CONFIG_NETKIT and refuses LSM programs -- so they run in
the 6.12 guest. On an older kernel each test fails with the reason, never skips.
The guest is emulated and slow: most steps use the library in-process and the
CLI is exercised once per type.
"""

from __future__ import annotations

import json
import os
import platform
import struct
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from bpfman.core.manager import Bpfman
from bpfman.errors import InvalidInputError
from tests.helpers import shown_rows
from tests.helpers.bpftool import link_infos, map_values, mprog_query
from tests.helpers.net import VethPair, in_netns
from tests.helpers.netkit import NETKIT_PEER, NETKIT_PRIMARY, NetkitPair
from tests.helpers.root import Root
from tests.helpers.wait import eventually

# An older guest deselects these (never skips); the host fails unless the 6.12 guest ran them.
pytestmark = [pytest.mark.vm, pytest.mark.min_kernel("6.12")]
GETPPID = {"x86_64": 110, "aarch64": 173}[platform.machine()]
CALLS = 23
PORT = 4242
PACKETS = 10
TCX_NEXT, TCX_PASS, TCX_DROP = -1, 0, 2


@pytest.fixture
def mgr(root: Root) -> Iterator[Bpfman]:
    manager = Bpfman(root.path)
    try:
        yield manager
    finally:
        manager.close()


def counts(root: Root, owner: int) -> dict[int, int]:
    return map_values(str(root.path / "fs" / "maps" / str(owner) / "counts"))


# -- lsm -----------------------------------------------------------------------


def bpf_lsm_active() -> list[str]:
    """The guest's active LSMs (securityfs mounted here if needed: the guest's own)."""
    lsm = Path("/sys/kernel/security/lsm")
    if not lsm.exists():
        subprocess.run(["mount", "-t", "securityfs", "securityfs", "/sys/kernel/security"])
    return lsm.read_text().strip().split(",") if lsm.exists() else []


def can_open(path: Path) -> bool:
    try:
        with open(path):
            return True
    except PermissionError:
        return False


def test_lsm_hook_denies_opening_a_marked_file_until_detached(
    root: Root, mgr: Bpfman, objects: Path, tmp_path: Path
) -> None:
    active = bpf_lsm_active()
    assert "bpf" in active, f"BPF LSM is not active (lsm={','.join(active)}): boot with lsm=...,bpf"
    marked, other = tmp_path / "marked", tmp_path / "other"
    marked.write_text("secret")
    other.write_text("public")
    ino = struct.pack("<Q", os.stat(marked).st_ino)
    loaded = root.json(
        "load",
        "file",
        "-p",
        objects / "lsm_deny.bpf.o",
        "--programs",
        "lsm:lsm_deny",
        "-g",
        f"target_ino={ino.hex()}",
    )
    prog = loaded[0]["id"]
    assert shown_rows(root.run("get", "program", prog).stdout)["LSM Hook"] == "file_open"
    link = json.loads(root.run("attach", "--output", "json", prog, "lsm").stdout)
    assert link["attachment"] == "file_open"

    assert not can_open(marked)
    assert can_open(other)
    assert counts(root, prog)[0] >= 1
    root.run("detach", link["id"])
    assert eventually(lambda: can_open(marked))

    # The hook can also be given at load, for a program whose section names none.
    [any_hook] = mgr.load_file(
        objects / "lsm_deny.bpf.o",
        ["lsm:lsm_deny_any:file_open"],
        globals={"target_ino": ino},
    )
    second = mgr.attach(any_hook.id, {})
    assert not can_open(marked)
    mgr.detach(second.id)
    assert eventually(lambda: can_open(marked))
    with pytest.raises(InvalidInputError, match="names no lsm hook"):
        mgr.load_file(objects / "lsm_deny.bpf.o", ["lsm:lsm_deny_any"])


# -- tp_btf ----------------------------------------------------------------------


def test_tp_btf_counts_exactly(root: Root, mgr: Bpfman, objects: Path) -> None:
    globals_ = {
        "target_pid": struct.pack("<I", os.getpid()),
        "syscall_nr": struct.pack("<Q", GETPPID),
    }
    section, given = mgr.load_file(
        objects / "tp_btf_counter.bpf.o",
        ["tp_btf:tp_btf_counter", "tp_btf:tp_btf_any:sys_enter"],
        globals=globals_,
    )
    link = json.loads(root.run("attach", "--output", "json", section.id, "tp_btf").stdout)
    assert link["attachment"] == "sys_enter"
    other = mgr.attach(given.id, {})
    for _ in range(CALLS):
        os.getppid()
    assert counts(root, section.id) == {0: CALLS, 1: CALLS}
    mgr.detach(other.id)
    assert eventually(lambda: link_infos(given.id) == [])  # links are freed asynchronously
    for _ in range(CALLS):
        os.getppid()
    assert counts(root, section.id) == {0: 2 * CALLS, 1: CALLS}


# -- netkit ------------------------------------------------------------------------


@pytest.fixture
def pair() -> Iterator[NetkitPair]:
    with NetkitPair() as nk:
        yield nk


def load_chain(
    mgr: Bpfman, objects: Path, slot: int, owner: int | None, verdict: int = TCX_NEXT
) -> int:
    [prog] = mgr.load_file(
        objects / "tcx_chain.bpf.o",
        ["netkit:tcx_chain"],
        globals={"prog_slot": struct.pack("<I", slot), "verdict": struct.pack("<i", verdict)},
        map_owner_id=owner,
    )
    return prog.id


def chain(pair: NetkitPair, attach_type: int) -> list[int]:
    import socket

    return in_netns(pair.ns_a, lambda: mprog_query(socket.if_nametoindex(pair.if_a), attach_type))


def test_netkit_priority_order_and_a_drop_stops_the_chain(
    root: Root, mgr: Bpfman, objects: Path, pair: NetkitPair
) -> None:
    netns = pair.netns_path_a
    owner = load_chain(mgr, objects, 0, None)
    first = load_chain(mgr, objects, 1, owner)
    middle = load_chain(mgr, objects, 2, owner)
    out = root.run(
        "attach", "--output", "json", owner, "netkit",
        "-i", pair.if_a, "-d", "primary", "-p", "1000", "-n", netns,
    )  # fmt: skip
    assert json.loads(out.stdout)["attachment"] == f"{pair.if_a} primary pos-0"
    opts = {"iface": pair.if_a, "direction": "primary", "netns": netns}
    assert mgr.attach(first, {**opts, "priority": 50}).params["priority"] == 50
    mgr.attach(middle, {**opts, "priority": 100})
    assert chain(pair, NETKIT_PRIMARY) == [first, middle, owner]
    positions = {d.program.id: d.position for d in mgr.list_links()}
    assert positions == {first: 0, middle: 1, owner: 2}

    pair.send_udp(PACKETS, PORT)
    assert pair.udp_received(PORT, PACKETS, timeout=2.0) == PACKETS
    seen = counts(root, owner)
    assert [seen[1], seen[2], seen[0]] == [PACKETS] * 3
    seq = map_values(str(root.path / "fs" / "maps" / str(owner) / "last_seq"))
    assert seq[1] < seq[2] < seq[0]

    # A drop from the first program stops the chain and the packet.
    mgr.unload(first)
    dropper = load_chain(mgr, objects, 3, owner, TCX_DROP)
    mgr.attach(dropper, {**opts, "priority": 50})
    assert eventually(lambda: chain(pair, NETKIT_PRIMARY) == [dropper, middle, owner])
    before = counts(root, owner)
    pair.send_udp(PACKETS, PORT)
    assert pair.udp_received(PORT, PACKETS, timeout=0.5) == 0
    after = counts(root, owner)
    assert [after[s] - before[s] for s in (3, 2, 0)] == [PACKETS, 0, 0]

    # The peer side has its own chain, run on what the peer sends.
    peer_prog = load_chain(mgr, objects, 4, owner)
    mgr.attach(peer_prog, {**opts, "direction": "peer", "priority": 10})
    assert chain(pair, NETKIT_PEER) == [peer_prog]
    before = counts(root, owner)
    pair.send_udp(PACKETS, PORT, from_a=False)
    assert pair.udp_received(PORT, PACKETS, timeout=2.0, at_b=False) == PACKETS
    assert counts(root, owner)[4] - before[4] == PACKETS

    for prog in (dropper, middle, owner, peer_prog):
        mgr.unload(prog)
    assert eventually(lambda: chain(pair, NETKIT_PRIMARY) == [])


def test_netkit_refuses_the_peer_device_and_other_devices(
    root: Root, objects: Path, pair: NetkitPair
) -> None:
    prog = root.json(
        "load", "file", "-p", objects / "tcx_chain.bpf.o", "--programs", "netkit:tcx_chain"
    )[0]["id"]
    message = root.fail(
        "attach", prog, "netkit", "-i", pair.if_b, "-d", "peer", "-p", "1", "-n", pair.netns_path_b
    )
    assert "is the peer device of its pair" in message
    with VethPair() as veth:
        message = root.fail(
            "attach", prog, "netkit", "-i", veth.if_a, "-d", "primary", "-p", "1",
            "-n", veth.netns_path_a,
        )  # fmt: skip
    assert message == f"Error: netkit: {veth.if_a} is not a netkit device (a veth)"
    assert root.json("list", "links") == []
