"""Shared steps of the xdp and tc tests (no tests here).

Every program instance is ``xdp_chain``/``tc_chain`` with its own
``prog_slot`` and ``verdict``; the instances share their maps
(``--map-owner-id``), so ``counts[slot]`` says how many test packets each
one saw and ``last_seq[slot]`` in which order they ran.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bpfman.dispatcher.loader import freplace_support
from tests.conftest import Root, require_root
from tests.helpers.bpftool import map_values

PORT = 4242


def s32(value: int) -> str:
    return value.to_bytes(4, "little", signed=True).hex()


def load_chain(
    root: Root, objects: Path, kind: str, slot: int, verdict: int, owner: int | None = None
) -> int:
    """Load one ``<kind>_chain`` instance; returns its program id."""
    args: list[str | int] = [
        "load", "file", "-p", str(objects / f"{kind}_chain.bpf.o"),
        "--programs", f"{kind}:{kind}_chain",
        "-g", f"prog_slot={s32(slot)}", f"verdict={s32(verdict)}",
    ]  # fmt: skip
    if owner is not None:
        args += ["--map-owner-id", owner]
    loaded: Any = root.json(*args)
    return int(loaded[0]["id"])


def attach(root: Root, prog_id: int, kind: str, *args: str | int) -> dict[str, Any]:
    out = root.run("attach", "--output", "json", prog_id, kind, *args).stdout
    link: dict[str, Any] = json.loads(out)
    return link


def counts(root: Root, owner: int) -> dict[int, int]:
    return map_values(str(root.path / "fs" / "maps" / str(owner) / "counts"))


def last_seq(root: Root, owner: int) -> dict[int, int]:
    return map_values(str(root.path / "fs" / "maps" / str(owner) / "last_seq"))


def positions(root: Root) -> dict[int, tuple[int, str]]:
    """link id -> (position, attachment) from ``list links``."""
    rows: Any = root.json("list", "links")
    return {row["id"]: (row["position"], row["attachment"]) for row in rows}


@pytest.fixture
def direct(root: Root) -> Root:
    require_root()
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
    """

    def __init__(self, root: Root, objects: Path, kind: str) -> None:
        self.root = root
        self.objects = objects
        self.kind = kind
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
                    "prog_slot": bytes.fromhex(s32(slot)),
                    "verdict": bytes.fromhex(s32(verdict)),
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
            globals={"prog_slot": bytes.fromhex(s32(slot))},
            map_owner_id=owner,
        )
        return int(records[0].id)

    def attach(
        self, prog: int, priority: int, proceed_on: list[str] | None = None, **params: Any
    ) -> int:
        params.update(priority=priority, proceed_on=proceed_on or [])
        return int(self.mgr.attach(prog, self.kind, params).id)

    def positions(self) -> dict[int, int]:
        """link id -> position, as ``list links`` shows it."""
        return {d.link.id: int(d.position or 0) for d in self.mgr.list_links()}
