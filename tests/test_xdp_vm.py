"""xdp chains through a dispatcher, in the VM lane (the guest kernel allows freplace).

Programs are ``xdp_chain`` instances sharing one set of maps; counters and
``last_seq`` show which programs saw each test packet and in which order.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bpfman import kernel
from bpfman.errors import ConflictError
from tests.helpers import run
from tests.helpers.bpftool import net_show, prog_ids, prog_show
from tests.helpers.chains import PACKETS, PORT, Chains
from tests.helpers.net import VethPair
from tests.helpers.root import Root

pytestmark = pytest.mark.vm
XDP_DROP, XDP_PASS = 1, 2


class XdpChains(Chains):
    """Chains on the XDP hook of the pair's b end."""

    def __init__(self, root: Root, objects: Path, pair: VethPair) -> None:
        super().__init__(root, objects, "xdp", pair)

    def where(self) -> dict[str, Any]:
        return {"iface": self.pair.if_b, "netns": self.pair.netns_path_b}

    def hook(self) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = net_show(self.pair.if_b, self.pair.netns_path_b)["xdp"]
        return entries


@pytest.fixture
def xdp(root: Root, objects: Path, pair: VethPair) -> Iterator[XdpChains]:
    chains = XdpChains(root, objects, pair)
    try:
        yield chains
    finally:
        chains.close()


def test_seed_tutorial_flow(root: Root, xdp: XdpChains, pair: VethPair) -> None:
    progs = xdp.load([XDP_PASS] * 4)
    links = [xdp.on(p, prio) for p, prio in zip(progs, [100, 50, 200, 150], strict=True)]
    assert [xdp.positions()[link] for link in links] == [1, 0, 3, 2]
    listed = root.run("list", "links").stdout
    assert f"{pair.if_b} pos-1" in listed and f"{pair.if_b} pos-3" in listed
    text = root.run("get", "link", links[2]).stdout
    assert "Position:           3" in text and "Mode:               dispatcher (freplace)" in text

    attached = xdp.hook()
    assert len(attached) == 1 and prog_show(attached[0]["id"])["name"] == "xdp_dispatcher"
    xdp.traffic(PACKETS)
    assert xdp.counts(progs[0], 4) == [PACKETS] * 4
    assert xdp.order(progs[0], [0, 1, 2, 3]) == [1, 0, 3, 2]

    xdp.mgr.unload(progs[0])  # position 1
    assert [xdp.positions()[link] for link in links[1:]] == [0, 2, 1]
    xdp.traffic(PACKETS)
    # The maps stay in the first program's directory while others use them.
    assert xdp.counts(progs[0], 4) == [PACKETS, 2 * PACKETS, 2 * PACKETS, 2 * PACKETS]
    assert xdp.order(progs[0], [1, 2, 3]) == [1, 3, 2]


def test_program_that_changes_packet_data_runs_in_the_chain(xdp: XdpChains, pair: VethPair) -> None:
    """A program calling bpf_xdp_adjust_tail replaces a dispatcher stub (the verifier must
    accept the extension), its cut reaches the receiver, and the next slot runs on the
    cut packet."""
    (counter,) = xdp.load([XDP_PASS])  # slot 0
    trim = xdp.load_trim(1, owner=counter)
    xdp.on(trim, 10)
    xdp.on(counter, 20)
    pair.send_udp(PACKETS, PORT)
    assert pair.udp_payloads(PORT, PACKETS, timeout=2.0) == [b"bpfman"] * PACKETS
    assert xdp.counts(counter, 2) == [PACKETS, PACKETS]
    assert xdp.order(counter, [0, 1]) == [1, 0]


def test_proceed_on_decides_whether_the_next_program_runs(xdp: XdpChains) -> None:
    dropper, passer = xdp.load([XDP_DROP, XDP_PASS])
    first = xdp.on(dropper, 10)  # default proceed-on: pass, dispatcher_return
    xdp.on(passer, 20)
    xdp.traffic(0)
    assert xdp.counts(dropper, 2) == [PACKETS, 0]

    xdp.mgr.detach(first)
    xdp.on(dropper, 10, ["drop", "dispatcher_return"])
    xdp.traffic(PACKETS)  # the passer's verdict wins
    assert xdp.counts(dropper, 2) == [2 * PACKETS, PACKETS]


def test_ten_fit_and_the_eleventh_is_refused(root: Root, xdp: XdpChains, pair: VethPair) -> None:
    progs = xdp.load([XDP_PASS] * 11)
    for i, prog in enumerate(progs[:10]):
        xdp.on(prog, 100 - i)
    before = (root.json("list", "links"), xdp.hook())
    line = root.fail("attach", progs[10], "xdp", "-i", pair.if_b, "-p", 1, "-n", pair.netns_path_b)
    assert "10 programs" in line
    assert (root.json("list", "links"), xdp.hook()) == before
    xdp.traffic(PACKETS)
    assert xdp.counts(progs[0], 11) == [PACKETS] * 10 + [0]
    assert xdp.order(progs[0], list(range(10))) == list(range(9, -1, -1))


def test_detach_middle_first_and_last(root: Root, xdp: XdpChains) -> None:
    progs = xdp.load([XDP_PASS] * 4)
    links = [xdp.on(p, prio) for p, prio in zip(progs, [10, 20, 30, 40], strict=True)]
    live = [0, 1, 2, 3]
    for gone in (1, 0, 3):  # middle, first, last
        xdp.mgr.detach(links[gone])
        live.remove(gone)
        pos = xdp.positions()
        assert [pos[links[i]] for i in live] == list(range(len(live)))
        before = xdp.counts(progs[0], 4)
        xdp.traffic(PACKETS)
        after = xdp.counts(progs[0], 4)
        assert [a - b for a, b in zip(after, before, strict=True)] == [
            PACKETS if s in live else 0 for s in range(4)
        ]
    xdp.mgr.detach(links[2])
    assert xdp.hook() == []
    assert not list((root.path / "fs" / "xdp").iterdir())


def test_netns_deleted_then_unload_still_works(root: Root, xdp: XdpChains, pair: VethPair) -> None:
    progs = xdp.load([XDP_PASS] * 2)
    for prog, prio in zip(progs, [10, 20], strict=True):
        xdp.on(prog, prio)
    dispatcher = int(xdp.hook()[0]["id"])
    run(["ip", "netns", "delete", pair.ns_b])
    for prog in progs:
        root.run("unload", prog)
    assert root.json("list", "links") == [] and root.json("list", "programs") == []
    assert not list((root.path / "fs" / "xdp").iterdir())
    assert dispatcher not in prog_ids()


def test_xdp_loader_status_lists_our_dispatcher(root: Root, xdp: XdpChains, pair: VethPair) -> None:
    progs = xdp.load([XDP_PASS] * 2)
    for prog, prio in zip(progs, [10, 20], strict=True):
        xdp.on(prog, prio)
    env = {**os.environ, "LIBXDP_BPFFS": str(root.path / "fs")}
    out = subprocess.run(
        ["ip", "netns", "exec", pair.ns_b, "xdp-loader", "status", pair.if_b],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert "xdp_dispatcher" in out.stdout, out
    assert out.stdout.count("xdp_chain") == 2, out


def test_atomic_swap_under_traffic(xdp: XdpChains) -> None:
    steady, churn = xdp.load([XDP_PASS] * 2)
    xdp.on(steady, 50)
    sent = xdp.churn(churn)
    assert xdp.counts(steady, 2)[0] == sent


def test_foreign_xdp_program_is_a_clean_error(
    root: Root, objects: Path, xdp: XdpChains, pair: VethPair
) -> None:
    """The new revision is built, the swap is refused, and the revision is dropped."""
    (ours,) = xdp.load([XDP_PASS])
    ns = ["ip", "netns", "exec", pair.ns_b]
    with kernel.BpfObject.open_file(objects / "xdp_chain.bpf.o") as obj:
        obj.load()
        foreign = kernel.prog_info(obj.program_fd("xdp_chain")).id
        run([*ns, "bpftool", "net", "attach", "xdp", "id", str(foreign), "dev", pair.if_b])
        try:
            with pytest.raises(ConflictError, match="bpfman did not attach"):
                xdp.on(ours, 5)
            assert xdp.mgr.list_links() == []
            assert not list((root.path / "fs" / "xdp").iterdir())
            assert [e["id"] for e in xdp.hook()] == [foreign]
        finally:
            run([*ns, "bpftool", "net", "detach", "xdp", "dev", pair.if_b])
