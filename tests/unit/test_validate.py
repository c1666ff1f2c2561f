"""The checks every entry point shares (bpfman/validate.py)."""

from __future__ import annotations

import pytest

from bpfman import validate
from tests.helpers.raises import refused


def test_text() -> None:
    assert validate.text("name", "héllo") == "héllo"
    assert validate.text("name", "") == ""
    with refused("name contains a NUL byte"):
        validate.text("name", "a\0b")
    with refused("name is not valid UTF-8: '\\udcff'"):
        validate.text("name", "\udcff")  # how Python decodes a stray 0xff in argv


@pytest.mark.parametrize("value", [1, 500, 1000])
def test_priority_in_range(value: int) -> None:
    assert validate.within("tcx", "priority", value, validate.PRIORITY_RANGE) == value


@pytest.mark.parametrize("value", [0, -1, 1001])
def test_priority_out_of_range(value: int) -> None:
    with refused(f"tcx: priority {value} is out of range 1-1000"):
        validate.within("tcx", "priority", value, validate.PRIORITY_RANGE)


def test_choice() -> None:
    assert validate.choice("tc", "direction", "egress", ("ingress", "egress")) == "egress"
    with refused("tc: invalid direction 'sideways' (possible values: ingress, egress)"):
        validate.choice("tc", "direction", "sideways", iter(["ingress", "egress"]))


@pytest.mark.parametrize("name", ["eth0", "a", "x" * 15, "veth-1.2_b@c"])
def test_iface_accepts(name: str) -> None:
    assert validate.iface("xdp", name) == name


@pytest.mark.parametrize("name", ["", "x" * 16, "é" * 8, "a/b", "a b", "a\tb", "a\nb", "a:b"])
def test_iface_refuses(name: str) -> None:
    with refused(f"xdp: invalid interface name {name!r}"):
        validate.iface("xdp", name)


def test_iface_refuses_a_nul_byte() -> None:
    with refused("xdp: interface name contains a NUL byte"):
        validate.iface("xdp", "eth\0")


def test_positive() -> None:
    assert validate.positive("uprobe", "pid", None) is None
    assert validate.positive("uprobe", "pid", 1) == 1
    for bad in (0, -5):
        with refused(f"uprobe: invalid pid {bad}: must be positive"):
            validate.positive("uprobe", "pid", bad)


def test_u64() -> None:
    assert validate.u64("kprobe", "offset", 0) == 0
    assert validate.u64("kprobe", "offset", 2**64 - 1) == 2**64 - 1
    for bad in (-1, 2**64):
        with refused(f"kprobe: offset {bad} is out of range 0-18446744073709551615"):
            validate.u64("kprobe", "offset", bad)


def test_path() -> None:
    assert validate.path("tc", "netns", None) is None
    assert validate.path("tc", "netns", "/var/run/netns/x") == "/var/run/netns/x"
    with refused("tc: netns is empty"):
        validate.path("tc", "netns", "")
    with refused("tc: netns contains a NUL byte"):
        validate.path("tc", "netns", "/x\0")


def test_the_pull_policy_names_are_the_image_stores() -> None:
    """The CLI's and the declarations' choices, typed for the library, match the store's enum."""
    from bpfman.images import PullPolicy

    assert tuple(p.value for p in PullPolicy) == validate.PULL_POLICIES
