"""Shared steps of the xdp, tc and tcx chain tests.

Every program instance is ``xdp_chain``/``tc_chain``/``tcx_chain`` with its
own ``prog_slot`` and ``verdict``; the instances share their maps
(``--map-owner-id``), so ``counts[slot]`` says how many test packets each
one saw and ``last_seq[slot]`` in which order they ran.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from bpfman.dispatcher.loader import freplace_support
from tests.helpers.bpftool import map_values
from tests.helpers.net import VethPair
from tests.helpers.root import Arg, Root, le32

PORT = 4242
PACKETS = 10  # per burst in the VM lane, where every packet is slow


def load_chain(
    root: Root, objects: Path, kind: str, slot: int, verdict: int, owner: int | None = None
) -> int:
    """Load one ``<kind>_chain`` instance; returns its program id."""
    args: list[Arg] = [
        "--programs", f"{kind}:{kind}_chain",
        "-g", f"prog_slot={le32(slot, signed=True)}", f"verdict={le32(verdict, signed=True)}",
    ]  # fmt: skip
    if owner is not None:
        args += ["--map-owner-id", owner]
    return root.load_id(objects / f"{kind}_chain.bpf.o", *args)


def attach_tcx(
    root: Root,
    prog: int,
    iface: str,
    netns: str,
    priority: int,
    *extra: Arg,
    direction: str = "ingress",
) -> dict[str, Any]:
    """``attach PROG tcx`` on ``iface`` in ``netns`` (``extra``: more flags); the link."""
    return root.attach(
        prog, "tcx", "-d", direction, "-i", iface, "-p", priority, "-n", netns, *extra
    )


def counts(root: Root, owner: int) -> dict[int, int]:
    return map_values(str(root.maps(owner) / "counts"))


def last_seq(root: Root, owner: int) -> dict[int, int]:
    return map_values(str(root.maps(owner) / "last_seq"))


def force_direct(root: Root) -> Root:
    """Make ``root`` take the direct path (one program per hook) even where freplace works."""
    if freplace_support().supported:
        root.env["BPFMAN_FREPLACE"] = "0"
    return root


def refusal() -> str:
    """What the refusal message names: the kernel's errno, or the override."""
    support = freplace_support()
    return "BPFMAN_FREPLACE=0" if support.supported else support.refusal


class Chains:
    """The library API of one test root, for tests that make many changes.

    The VM lane emulates its CPU, where every CLI process costs seconds; the
    CLI itself is exercised by the host tests and a few calls per VM test.
    Subclasses say where :meth:`on` attaches (:meth:`where`).
    """

    def __init__(self, root: Root, objects: Path, kind: str, pair: VethPair) -> None:
        self.root = root
        self.objects = objects
        self.kind = kind
        self.pair = pair
        self.mgr = root.manager()

    def close(self) -> None:
        self.mgr.close()

    def load(self, verdicts: list[int]) -> list[int]:
        """One program per verdict, in slots 0.., all sharing the first one's maps."""
        ids: list[int] = []
        for slot, verdict in enumerate(verdicts):
            records = self.mgr.load_file(
                self.objects / f"{self.kind}_chain.bpf.o",
                [f"{self.kind}:{self.kind}_chain"],
                globals={
                    "prog_slot": slot.to_bytes(4, "little", signed=True),
                    "verdict": verdict.to_bytes(4, "little", signed=True),
                },
                map_owner_id=ids[0] if ids else None,
            )
            ids.append(int(records[0].id))
        return ids

    def load_trim(self, slot: int, owner: int) -> int:
        """A ``<kind>_trim`` program (it changes packet data) in slot, on owner's maps."""
        records = self.mgr.load_file(
            self.objects / f"{self.kind}_trim.bpf.o",
            [f"{self.kind}:{self.kind}_trim"],
            globals={"prog_slot": slot.to_bytes(4, "little", signed=True)},
            map_owner_id=owner,
        )
        return int(records[0].id)

    def where(self) -> dict[str, Any]:
        """The attach options that name the hook (interface, direction, netns)."""
        raise NotImplementedError

    def on(self, prog: int, priority: int, proceed_on: list[str] | None = None) -> int:
        """Attach ``prog`` to the hook; returns the link id."""
        params = {**self.where(), "priority": priority, "proceed_on": proceed_on or []}
        return int(self.mgr.attach(prog, params).id)

    def positions(self) -> dict[int, int]:
        """link id -> position, as ``list links`` shows it."""
        return {d.link.id: int(d.position or 0) for d in self.mgr.list_links()}

    def traffic(self, expect: int) -> None:
        """Send PACKETS test packets a->b; ``expect`` of them must arrive."""
        self.pair.send_udp(PACKETS, PORT)
        timeout = 2.0 if expect else 0.5
        assert self.pair.udp_received(PORT, PACKETS, timeout=timeout) == expect

    def counts(self, owner: int, slots: int) -> list[int]:
        """How many test packets each of slots 0..slots-1 saw."""
        seen = counts(self.root, owner)
        return [seen[s] for s in range(slots)]

    def order(self, owner: int, slots: list[int]) -> list[int]:
        """The slots in the order they ran for the last packet."""
        seq = last_seq(self.root, owner)
        return sorted(slots, key=lambda s: seq[s])

    def churn(self, prog: int, cycles: int = 50) -> int:
        """Attach and detach ``prog`` ``cycles`` times while test packets flow a->b.

        Every packet must arrive; returns how many were sent. The stream is
        paced: a veth running XDP queues at most 256 packets per ring, and an
        emulated CPU drains it slowly; overflowing it would be loss of our own.
        """
        sent = 0
        stop = threading.Event()

        def stream() -> None:
            nonlocal sent
            while not stop.is_set():
                self.pair.send_udp(2, PORT)
                sent += 2
                time.sleep(0.005)

        sender = threading.Thread(target=stream)
        sender.start()
        try:
            for cycle in range(cycles):
                self.mgr.detach(self.on(prog, 10 + cycle))
        finally:
            stop.set()
            sender.join()
        assert self.pair.udp_received(PORT, sent, timeout=5.0) == sent
        return sent
