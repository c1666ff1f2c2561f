"""A dispatcher hook's state (bpfman/dispatcher/state.py) through the plugin records.

The records are msgpack maps in LMDB; the layout is the one every earlier
version wrote, so a store written before the typed state loads, and one
written now is byte for byte what an earlier bpfman wrote and reads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgpack
import pytest

from bpfman.core.bpffs import Layout
from bpfman.core.state import Store
from bpfman.dispatcher.state import (
    DIRECT,
    FREPLACE,
    HookState,
    Where,
    hook_state,
    hook_states,
    put_hook_state,
)

NETNS = {"path": "/run/netns/test", "dev": 4, "inode": 4026532841}
# What bpfman wrote for an XDP hook before the state was typed (revisions.py spread
# the interface first, then the dispatcher's fields).
LEGACY_XDP: dict[str, Any] = {
    "iface": "veth0",
    "ifindex": 7,
    "netns": NETNS,
    "mode": "freplace",
    "revision": 3,
    "dir": "/run/bpfman/fs/xdp/dispatch-7-412",
    "prog_pin": "/run/bpfman/fs/xdp/dispatch-7-412/dispatcher",
    "attach": {"link_pin": "/run/bpfman/fs/xdp/link-4026532841-7", "xdp_mode": "skb"},
    "links": [3405691582, 17],
}
LEGACY_TC: dict[str, Any] = {
    "iface": "veth1",
    "ifindex": 8,
    "netns": NETNS,
    "direction": "egress",
    "mode": "direct",
    "revision": 1,
    "dir": "",
    "prog_pin": "/run/bpfman/fs/prog_88",
    "attach": {"handle": 2},
    "links": [99],
}


@pytest.fixture
def store(tmp_path: Path) -> Any:
    layout = Layout(tmp_path)
    layout.db.mkdir()
    store = Store(layout.db)
    with store.locked():
        store.prepare(lambda: True)
    yield store
    store.close()


def write_raw(store: Store, namespace: str, key: str, value: Any) -> None:
    with store.locked(), store.snapshot() as txn:
        txn.plugin_put(namespace, key, value)
        store.commit(txn.staged)


def test_a_record_of_the_previous_version_loads(store: Store) -> None:
    write_raw(store, "xdp", "xdp/4026532841/7", LEGACY_XDP)
    write_raw(store, "tc", "tc/4026532841/8/egress", LEGACY_TC)
    with store.read() as txn:
        xdp = hook_state(txn, "xdp", "xdp/4026532841/7")
        [(key, tc)] = hook_states(txn, "tc")
        assert hook_state(txn, "xdp", "xdp/4026532841/9") is None
    assert xdp == HookState(
        mode=FREPLACE,
        revision=3,
        dir="/run/bpfman/fs/xdp/dispatch-7-412",
        prog_pin="/run/bpfman/fs/xdp/dispatch-7-412/dispatcher",
        attach={"link_pin": "/run/bpfman/fs/xdp/link-4026532841-7", "xdp_mode": "skb"},
        links=(3405691582, 17),
        where=Where("veth0", 7, NETNS),
    )
    assert key == "tc/4026532841/8/egress"
    assert tc is not None and tc.mode == DIRECT and tc.where.direction == "egress"
    assert tc.links == (99,) and tc.attach == {"handle": 2}


@pytest.mark.parametrize("legacy", [LEGACY_XDP, LEGACY_TC], ids=["xdp", "tc"])
def test_the_state_is_written_as_before(store: Store, legacy: dict[str, Any]) -> None:
    """The record written now is the previous version's, byte for byte."""
    state = HookState.from_record(legacy)
    assert state.to_record() == legacy
    assert msgpack.packb(state.to_record(), use_bin_type=True) == msgpack.packb(
        legacy, use_bin_type=True
    )
    with store.locked(), store.snapshot() as txn:
        put_hook_state(txn, "xdp", "hook", state)
        store.commit(txn.staged)
    with store.read() as txn:
        assert txn.plugin_get("xdp", "hook") == legacy
        assert hook_state(txn, "xdp", "hook") == state


def test_a_namespace_recorded_as_a_path_loads() -> None:
    """Stores migrated from before namespaces were recorded by inode hold a path."""
    state = HookState.from_record({**LEGACY_XDP, "netns": "/run/netns/old"})
    assert state.where.netns == "/run/netns/old"
    assert state.to_record()["netns"] == "/run/netns/old"


@pytest.mark.parametrize(
    "record",
    [
        True,  # tc's qdisc marks are records of another namespace
        [],
        {**LEGACY_XDP, "mode": "chained"},
        {k: v for k, v in LEGACY_XDP.items() if k != "links"},
        {k: v for k, v in LEGACY_XDP.items() if k != "ifindex"},
        {**LEGACY_XDP, "links": 5},
    ],
)
def test_what_is_not_a_hook_record_is_refused(record: Any) -> None:
    with pytest.raises(ValueError, match="dispatch"):
        HookState.from_record(record)
