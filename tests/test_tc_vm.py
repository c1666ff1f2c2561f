"""tc chains through a dispatcher, in the VM lane (the guest kernel allows freplace).

Same shape as test_xdp_vm.py, on both directions: ingress on the pair's b end
sees a->b test packets, egress on the a end sees them leave.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import run
from tests.helpers.bpftool import net_show, prog_show
from tests.helpers.chains import PACKETS, PORT, Chains, last_seq
from tests.helpers.net import VethPair
from tests.helpers.root import Root

pytestmark = pytest.mark.vm
TC_ACT_OK, TC_ACT_SHOT = 0, 2


class TcChains(Chains):
    """Chains on one direction of one end of the pair."""

    def __init__(self, root: Root, objects: Path, pair: VethPair, direction: str) -> None:
        super().__init__(root, objects, "tc", pair)
        self.direction = direction
        on_b = direction == "ingress"
        self.iface = pair.if_b if on_b else pair.if_a
        self.ns = pair.ns_b if on_b else pair.ns_a

    def where(self) -> dict[str, Any]:
        return {
            "direction": self.direction,
            "iface": self.iface,
            "netns": f"/var/run/netns/{self.ns}",
        }

    def filters(self) -> list[tuple[str, str]]:
        """(hook, program name) of each filter bpftool shows."""
        shown = net_show(self.iface, self.ns)["tc"]
        return [(e["kind"], prog_show(e["id"])["name"]) for e in shown]


@pytest.fixture(params=["ingress", "egress"])
def tc(
    request: pytest.FixtureRequest, root: Root, objects: Path, pair: VethPair
) -> Iterator[TcChains]:
    chains = TcChains(root, objects, pair, str(request.param))
    try:
        yield chains
    finally:
        chains.close()


def test_order_positions_and_cleanup(root: Root, tc: TcChains) -> None:
    progs = tc.load([TC_ACT_OK] * 4)
    links = [tc.on(p, prio) for p, prio in zip(progs, [100, 50, 200, 150], strict=True)]
    assert [tc.positions()[link] for link in links] == [1, 0, 3, 2]
    assert f"{tc.iface} {tc.direction} pos-3" in root.run("list", "links").stdout
    assert tc.filters() == [(f"clsact/{tc.direction}", "tc_dispatcher")]
    tc.traffic(PACKETS)
    assert tc.counts(progs[0], 4) == [PACKETS] * 4
    assert tc.order(progs[0], [0, 1, 2, 3]) == [1, 0, 3, 2]

    tc.mgr.unload(progs[1])  # position 0
    assert [tc.positions()[link] for link in (links[0], links[2], links[3])] == [0, 2, 1]
    for prog in (progs[0], progs[2], progs[3]):
        tc.mgr.unload(prog)
    assert tc.filters() == []
    assert "clsact" not in run(["tc", "-n", tc.ns, "qdisc", "show", "dev", tc.iface])
    assert not list((root.path / "fs" / "tc").iterdir())


def test_program_that_changes_packet_data_runs_in_the_chain(root: Root, tc: TcChains) -> None:
    """A program calling bpf_skb_change_tail replaces a dispatcher stub (the verifier must
    accept the extension), its cut reaches the receiver, and the next slot runs on the
    cut packet."""
    (counter,) = tc.load([TC_ACT_OK])  # slot 0
    trim = tc.load_trim(1, owner=counter)
    tc.on(trim, 10)
    tc.on(counter, 20)
    tc.pair.send_udp(PACKETS, PORT)
    assert tc.pair.udp_payloads(PORT, PACKETS, timeout=2.0) == [b"bpfman"] * PACKETS
    assert tc.counts(counter, 2) == [PACKETS, PACKETS]
    seq = last_seq(root, counter)
    assert seq[1] < seq[0]


def test_proceed_on_decides_whether_the_next_program_runs(tc: TcChains) -> None:
    shooter, passer = tc.load([TC_ACT_SHOT, TC_ACT_OK])
    first = tc.on(shooter, 10)  # default proceed-on: ok, pipe, dispatcher_return
    tc.on(passer, 20)
    tc.traffic(0)
    assert tc.counts(shooter, 2) == [PACKETS, 0]

    tc.mgr.detach(first)
    tc.on(shooter, 10, ["shot", "dispatcher_return"])
    tc.traffic(PACKETS)  # the passer's verdict wins
    assert tc.counts(shooter, 2) == [2 * PACKETS, PACKETS]


def test_ingress_qdisc_is_a_clean_error(root: Root, objects: Path, pair: VethPair) -> None:
    run(["tc", "-n", pair.ns_b, "qdisc", "add", "dev", pair.if_b, "ingress"])
    prog = root.load_id(objects / "tc_chain.bpf.o", "--programs", "tc:tc_chain")
    line = root.fail(
        "attach", prog, "tc", "-d", "ingress", "-i", pair.if_b, "-p", 5,
        "-n", pair.netns_path_b,
    )  # fmt: skip
    assert "ingress qdisc" in line
    assert root.json("list", "links") == []
    assert not [p for p in (root.path / "fs" / "tc").glob("dispatch-*")]


def test_netns_deleted_then_unload_still_works(root: Root, tc: TcChains) -> None:
    progs = tc.load([TC_ACT_OK] * 2)
    for prog, prio in zip(progs, [10, 20], strict=True):
        tc.on(prog, prio)
    run(["ip", "netns", "delete", tc.ns])
    for prog in progs:
        tc.mgr.unload(prog)
    assert tc.mgr.list_links() == [] and tc.mgr.list_programs() == []
    assert not list((root.path / "fs" / "tc").iterdir())


def test_swap_under_traffic(root: Root, objects: Path, pair: VethPair) -> None:
    """50 attach/detach cycles on ingress while packets flow: none lost, none unseen."""
    tc = TcChains(root, objects, pair, "ingress")
    try:
        steady, churn = tc.load([TC_ACT_OK] * 2)
        tc.on(steady, 50)
        sent = tc.churn(churn)
        assert tc.counts(steady, 1) == [sent]
    finally:
        tc.close()


@pytest.mark.min_kernel("6.6")
def test_tcx_links_run_before_the_tc_dispatcher_on_one_hook(
    root: Root, objects: Path, pair: VethPair
) -> None:
    """TCX and a tc dispatcher share ingress: the kernel runs the TCX links first and
    the dispatcher's chain after a TCX_NEXT; detaching the TCX link leaves the chain."""
    tc = TcChains(root, objects, pair, "ingress")
    try:
        (owner,) = tc.load([TC_ACT_OK])  # tc_chain in slot 0
        tcx = tc.mgr.load_file(
            objects / "tcx_chain.bpf.o",
            ["tcx:tcx_chain"],
            globals={"prog_slot": (1).to_bytes(4, "little")},
            map_owner_id=owner,
        )[0].id
        tc.on(owner, 10)
        where = {"direction": "ingress", "iface": pair.if_b, "netns": pair.netns_path_b}
        tcx_link = tc.mgr.attach(int(tcx), {**where, "priority": 500})
        tc.traffic(PACKETS)
        assert tc.counts(owner, 2) == [PACKETS, PACKETS]
        seq = last_seq(root, owner)
        assert seq[1] < seq[0]

        tc.mgr.detach(tcx_link.id)
        tc.traffic(PACKETS)
        assert tc.counts(owner, 2) == [2 * PACKETS, PACKETS]
    finally:
        tc.close()
