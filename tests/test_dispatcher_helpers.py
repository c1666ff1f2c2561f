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
