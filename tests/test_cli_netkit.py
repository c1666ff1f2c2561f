"""netkit on the host: this kernel has no CONFIG_NETKIT, so only the refusals run
here; ordering, verdicts and both sides of a real pair run in the 6.12 guest
(tests/test_vm_types612.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.net import VethPair
from tests.helpers.root import Root


@pytest.fixture
def pair() -> Iterator[VethPair]:
    with VethPair() as veth:
        yield veth


def test_netkit_on_a_veth_is_refused_in_one_line(root: Root, objects: Path, pair: VethPair) -> None:
    loaded: Any = root.json(
        "load", "file", "-p", objects / "tcx_chain.bpf.o", "--programs", "netkit:tcx_chain"
    )
    prog = loaded[0]["id"]
    where = ["-i", pair.if_a, "-p", "10", "-n", pair.netns_path_a]
    message = root.fail("attach", prog, "netkit", "-d", "primary", *where)
    assert message == f"Error: netkit: {pair.if_a} is not a netkit device (a veth)"
    message = root.fail("attach", prog, "netkit", "-d", "ingress", *where)
    assert "'ingress' is not one of 'primary', 'peer'" in message
    message = root.fail("attach", prog, "netkit", "-d", "peer", *where[:2], "-p", "0")
    assert "0" in message
    assert root.json("list", "links") == []
