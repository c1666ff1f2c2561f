"""TCX chains through the real CLI, proven with real packets across a veth pair.

Every program instance is ``tcx_chain`` with its own ``prog_slot``; the instances
share their maps (``--map-owner-id``), so ``counts[slot]`` says how many test
packets each one saw and ``last_seq[slot]`` in which order they ran.
"""

from __future__ import annotations

import random
import subprocess
from pathlib import Path
from typing import Any

from tests.helpers.bpftool import net_show
from tests.helpers.chains import PORT, attach_tcx, counts, last_seq, load_chain
from tests.helpers.net import VethPair
from tests.helpers.root import BPFMAN, REPO, Root
from tests.helpers.wait import eventually

PACKETS = 20
TCX_NEXT, TCX_PASS, TCX_DROP = -1, 0, 2


def chain_maps(root: Root, owner: int) -> tuple[dict[int, int], dict[int, int]]:
    return counts(root, owner), last_seq(root, owner)


def delta(after: dict[int, int], before: dict[int, int], slots: list[int]) -> list[int]:
    return [after[s] - before[s] for s in slots]


def kernel_order(pair: VethPair, kind: str = "tcx/ingress", on_b: bool = True) -> list[int]:
    iface, ns = (pair.if_b, pair.netns_path_b) if on_b else (pair.if_a, pair.netns_path_a)
    return [e["prog_id"] for e in net_show(iface, ns)["tcx"] if e["kind"] == kind]


def order_becomes(
    pair: VethPair, expected: list[int], kind: str = "tcx/ingress", on_b: bool = True
) -> bool:
    """Whether the kernel's run order turns into ``expected`` (links go asynchronously)."""
    return eventually(lambda: kernel_order(pair, kind, on_b) == expected)


def positions(root: Root) -> dict[int, tuple[int, str]]:
    """program id -> (position, attachment) from ``list links``."""
    rows: Any = root.json("list", "links")
    return {row["program_id"]: (row["position"], row["attachment"]) for row in rows}


def test_tcx_three_programs_priority_order_verdicts_and_detach(
    root: Root, objects: Path, pair: VethPair
) -> None:
    # Slot 0 owns the maps and runs last (priority 1000); attach order 1000, 50, 100.
    owner = load_chain(root, objects, "tcx", 0, TCX_NEXT)
    first = load_chain(root, objects, "tcx", 1, TCX_NEXT, owner)
    middle = load_chain(root, objects, "tcx", 2, TCX_NEXT, owner)
    ns_b, if_b = pair.netns_path_b, pair.if_b
    link_last = attach_tcx(root, owner, if_b, ns_b, 1000)
    link_first = attach_tcx(root, first, if_b, ns_b, 50)
    link_middle = attach_tcx(root, middle, if_b, ns_b, 100)
    assert link_last["position"] == 0  # alone on the hook when it was attached
    assert link_first["position"] == 0
    assert link_middle["position"] == 1

    assert positions(root) == {
        first: (0, f"{if_b} ingress pos-0"),
        middle: (1, f"{if_b} ingress pos-1"),
        owner: (2, f"{if_b} ingress pos-2"),
    }
    assert kernel_order(pair) == [first, middle, owner]
    shown = root.run("get", "link", link_last["id"]).stdout
    assert " Position:           2" in shown
    assert " Priority:           1000" in shown
    assert f" Network Namespace:  {ns_b}" in shown

    pair.send_udp(PACKETS, PORT)
    assert pair.udp_received(PORT, PACKETS) == PACKETS
    counts, last_seq = chain_maps(root, owner)
    assert [counts[1], counts[2], counts[0]] == [PACKETS] * 3
    assert last_seq[1] < last_seq[2] < last_seq[0]  # ran 50, then 100, then 1000

    # The first program's verdict decides whether the later ones run at all.
    for verdict, later_runs, arrives in (
        (TCX_PASS, False, True),
        (TCX_DROP, False, False),
        (TCX_NEXT, True, True),
    ):
        root.run("unload", first)
        first = load_chain(root, objects, "tcx", 1, verdict, owner)
        assert attach_tcx(root, first, if_b, ns_b, 50)["position"] == 0
        assert order_becomes(pair, [first, middle, owner])
        before, _ = chain_maps(root, owner)
        pair.send_udp(PACKETS, PORT)
        received = pair.udp_received(PORT, PACKETS, timeout=1.0 if arrives else 0.3)
        after, _ = chain_maps(root, owner)
        later = PACKETS if later_runs else 0
        assert delta(after, before, [1, 2, 0]) == [PACKETS, later, later], verdict
        assert received == (PACKETS if arrives else 0), verdict

    # Detaching the middle link renumbers the others and keeps their order.
    links: Any = root.json("list", "links")
    middle_link = next(row["id"] for row in links if row["program_id"] == middle)
    root.run("detach", middle_link)
    assert positions(root) == {
        first: (0, f"{if_b} ingress pos-0"),
        owner: (1, f"{if_b} ingress pos-1"),
    }
    assert order_becomes(pair, [first, owner])
    before, _ = chain_maps(root, owner)
    pair.send_udp(PACKETS, PORT)
    assert pair.udp_received(PORT, PACKETS) == PACKETS
    after, seqs = chain_maps(root, owner)
    assert delta(after, before, [1, 2, 0]) == [PACKETS, 0, PACKETS]
    assert seqs[1] < seqs[0]

    for prog in (first, middle, owner):
        root.run("unload", prog)
    assert order_becomes(pair, [])
    assert root.json("list", "links") == []


def test_tcx_egress(root: Root, objects: Path, pair: VethPair) -> None:
    prog = load_chain(root, objects, "tcx", 3, TCX_NEXT)
    link = attach_tcx(root, prog, pair.if_a, pair.netns_path_a, 10, direction="egress")
    assert link["attachment"] == f"{pair.if_a} egress pos-0"
    assert kernel_order(pair, "tcx/egress", on_b=False) == [prog]
    assert kernel_order(pair, "tcx/ingress", on_b=False) == []
    pair.send_udp(PACKETS, PORT)
    assert pair.udp_received(PORT, PACKETS) == PACKETS
    counts, _ = chain_maps(root, prog)
    assert counts[3] == PACKETS
    shown = root.run("get", "link", link["id"]).stdout
    assert " Direction:          egress" in shown
    root.run("detach", link["id"])
    assert order_becomes(pair, [], "tcx/egress", on_b=False)


def test_concurrent_attaches_keep_every_link_and_position(
    root: Root, objects: Path, pair: VethPair
) -> None:
    owner = load_chain(root, objects, "tcx", 0, TCX_NEXT)
    programs = [owner] + [
        load_chain(root, objects, "tcx", slot, TCX_NEXT, owner) for slot in range(1, 8)
    ]
    priorities = random.sample(range(1, 1001), len(programs))
    procs = [
        subprocess.Popen(
            [
                *BPFMAN,
                "attach",
                str(prog),
                "tcx",
                "-d",
                "ingress",
                "-i",
                pair.if_b,
                "-p",
                str(prio),
                "-n",
                pair.netns_path_b,
            ],
            env=root.env,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for prog, prio in zip(programs, priorities, strict=True)
    ]
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, f"{out}\n{err}"

    links: Any = root.json("list", "links")
    assert len(links) == len(programs)
    assert len({row["id"] for row in links}) == len(programs)
    by_priority = [prog for _, prog in sorted(zip(priorities, programs, strict=True))]
    by_position = [row["program_id"] for row in sorted(links, key=lambda r: r["position"])]
    assert sorted(row["position"] for row in links) == list(range(len(programs)))
    assert by_position == by_priority
    assert kernel_order(pair) == by_priority
    for row in links:
        assert row["attachment"] == f"{pair.if_b} ingress pos-{row['position']}"

    pair.send_udp(PACKETS, PORT)
    assert pair.udp_received(PORT, PACKETS) == PACKETS
    counts, last_seq = chain_maps(root, owner)
    assert [counts[slot] for slot in range(8)] == [PACKETS] * 8
    slot_of = {prog: slot for slot, prog in enumerate(programs)}
    seqs = [last_seq[slot_of[prog]] for prog in by_priority]
    assert seqs == sorted(seqs)


def test_unload_after_the_netns_is_gone(root: Root, objects: Path) -> None:
    """Deleting the namespace drops the hook; unload and detach must still work."""
    prog = load_chain(root, objects, "tcx", 0, TCX_NEXT)
    other = load_chain(root, objects, "tcx", 1, TCX_NEXT, prog)
    with VethPair() as pair:
        link = attach_tcx(root, prog, pair.if_b, pair.netns_path_b, 10)
        other_link = attach_tcx(root, other, pair.if_b, pair.netns_path_b, 20)
    root.run("detach", other_link["id"])
    root.run("unload", prog)
    assert root.json("list", "links") == []
    rows: Any = root.json("list", "programs")
    assert [row["id"] for row in rows] == [other]
    assert not (root.path / "fs" / "links" / str(link["id"])).exists()
    root.run("unload", other)
    assert root.json("list", "programs") == []


def test_equal_priorities_keep_attach_order(root: Root, objects: Path, pair: VethPair) -> None:
    owner = load_chain(root, objects, "tcx", 0, TCX_NEXT)
    progs = [
        owner,
        load_chain(root, objects, "tcx", 1, TCX_NEXT, owner),
        load_chain(root, objects, "tcx", 2, TCX_NEXT, owner),
    ]
    early = load_chain(root, objects, "tcx", 3, TCX_NEXT, owner)
    for prog in progs:
        attach_tcx(root, prog, pair.if_b, pair.netns_path_b, 100)
    attach_tcx(root, early, pair.if_b, pair.netns_path_b, 99)
    expected = [early, *progs]
    assert {prog: pos for prog, (pos, _) in positions(root).items()} == {
        prog: pos for pos, prog in enumerate(expected)
    }
    assert kernel_order(pair) == expected
