"""tc on a kernel that refuses freplace: one cls_bpf filter per hook, real packets.

As in test_xdp_host.py, BPFMAN_FREPLACE=0 forces the direct path on kernels
that would allow a dispatcher.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import run
from tests.helpers.bpftool import net_show
from tests.helpers.chains import PORT, counts, load_chain, refusal
from tests.helpers.net import VethPair
from tests.helpers.root import Root

TC_ACT_OK, TC_ACT_SHOT = 0, 2
PACKETS = 20


def qdiscs(ns: str, iface: str) -> str:
    return run(["tc", "-n", ns, "qdisc", "show", "dev", iface])


def filters(pair: VethPair, on_b: bool = True) -> list[tuple[str, int]]:
    iface, ns = (pair.if_b, pair.netns_path_b) if on_b else (pair.if_a, pair.netns_path_a)
    return [(e["kind"], e["id"]) for e in net_show(iface, ns)["tc"]]


@pytest.mark.parametrize("direction", ["ingress", "egress"])
def test_direct_filter_shoots_then_detach_restores(
    direct: Root, objects: Path, pair: VethPair, direction: str
) -> None:
    # ingress on b sees a->b packets; egress on a sees them leave.
    on_b = direction == "ingress"
    iface, ns = (pair.if_b, pair.ns_b) if on_b else (pair.if_a, pair.ns_a)
    prog = load_chain(direct, objects, "tc", 0, TC_ACT_SHOT)
    link = direct.attach(
        prog, "tc", "-d", direction, "-i", iface, "-p", 100, "-n", f"/var/run/netns/{ns}"
    )
    assert link["attachment"] == f"{iface} {direction} pos-0"
    assert "clsact" in qdiscs(ns, iface)
    assert filters(pair, on_b) == [(f"clsact/{direction}", prog)]

    pair.send_udp(PACKETS, PORT)
    assert pair.udp_received(PORT, PACKETS, timeout=0.5) == 0
    assert counts(direct, prog)[0] == PACKETS
    text = direct.run("get", "link", link["id"]).stdout
    assert f"Direction:          {direction}" in text
    assert "Proceed On:         ok, pipe, dispatcher_return" in text

    direct.run("detach", link["id"])
    assert filters(pair, on_b) == []
    assert "clsact" not in qdiscs(ns, iface)  # bpfman created it, so it goes too
    pair.send_udp(PACKETS, PORT)
    assert pair.udp_received(PORT, PACKETS) == PACKETS


def test_second_program_is_refused_and_user_clsact_stays(
    direct: Root, objects: Path, pair: VethPair
) -> None:
    run(["tc", "-n", pair.ns_b, "qdisc", "add", "dev", pair.if_b, "clsact"])
    first = load_chain(direct, objects, "tc", 0, TC_ACT_OK)
    second = load_chain(direct, objects, "tc", 1, TC_ACT_SHOT, owner=first)
    args = ["-d", "ingress", "-i", pair.if_b, "-n", pair.netns_path_b]
    direct.attach(first, "tc", *args, "-p", 100)
    before = direct.json("list", "links")

    line = direct.fail("attach", second, "tc", *args, "-p", 50)
    assert refusal() in line and f"already runs program {first}" in line
    assert direct.json("list", "links") == before
    assert filters(pair) == [("clsact/ingress", first)]
    pair.send_udp(PACKETS, PORT)
    assert pair.udp_received(PORT, PACKETS) == PACKETS

    direct.attach(second, "tc", "-d", "egress", "-i", pair.if_b, "-n", pair.netns_path_b, "-p", 1)
    direct.run("unload", first)
    direct.run("unload", second)
    assert filters(pair) == []
    assert "clsact" in qdiscs(pair.ns_b, pair.if_b)  # the user's qdisc is never removed


def test_ingress_qdisc_is_a_clean_error(direct: Root, objects: Path, pair: VethPair) -> None:
    run(["tc", "-n", pair.ns_b, "qdisc", "add", "dev", pair.if_b, "ingress"])
    prog = load_chain(direct, objects, "tc", 0, TC_ACT_OK)
    line = direct.fail(
        "attach", prog, "tc", "-d", "ingress", "-i", pair.if_b, "-n", pair.netns_path_b, "-p", 5
    )
    assert "ingress qdisc" in line
    assert "ingress" in qdiscs(pair.ns_b, pair.if_b)
    assert direct.json("list", "links") == []


def test_netns_deleted_then_unload_finishes(direct: Root, objects: Path, pair: VethPair) -> None:
    prog = load_chain(direct, objects, "tc", 0, TC_ACT_OK)
    direct.attach(prog, "tc", "-d", "ingress", "-i", pair.if_b, "-n", pair.netns_path_b, "-p", 5)
    run(["ip", "netns", "delete", pair.ns_b])
    direct.run("unload", prog)
    assert direct.json("list", "links") == []
    assert direct.json("list", "programs") == []
