"""Dispatcher config layouts, chain-call masks and proceed-on names.

bpfman/dispatcher/flavours.py packs the ``conf`` global libxdp's way;
proceed_on.py turns names into masks and back.
"""

from __future__ import annotations

import struct

import pytest

from bpfman.dispatcher import TC, XDP, Flavour, proceed_on_mask
from bpfman.dispatcher.flavours import MAX_PROGRAMS, Slot
from bpfman.dispatcher.proceed_on import normalise, proceed_on_names
from tests.helpers.raises import refused

XDP_BITS = {"aborted": 0, "drop": 1, "pass": 2, "tx": 3, "redirect": 4, "dispatcher_return": 31}
TC_BITS = {
    "unspec": 0,
    "ok": 1,
    "reclassify": 2,
    "shot": 3,
    "pipe": 4,
    "stolen": 5,
    "queued": 6,
    "repeat": 7,
    "redirect": 8,
    "trap": 9,
    "dispatcher_return": 31,
}


@pytest.mark.parametrize(("name", "bit"), XDP_BITS.items())
def test_xdp_mask_of_each_name(name: str, bit: int) -> None:
    assert proceed_on_mask(XDP, [name]) == 1 << bit


@pytest.mark.parametrize(("name", "bit"), TC_BITS.items())
def test_tc_mask_of_each_name(name: str, bit: int) -> None:
    assert proceed_on_mask(TC, [name]) == 1 << bit


def test_default_masks_and_combinations() -> None:
    assert proceed_on_mask(XDP, []) == 0x80000004
    assert proceed_on_mask(TC, []) == (1 << 1) | (1 << 4) | (1 << 31)
    assert proceed_on_mask(XDP, ["drop", "pass", "dispatcher_return"]) == 0x80000006
    assert proceed_on_mask(XDP, ["drop,pass", "DROP"]) == 0x6
    assert normalise(TC, []) == ["ok", "pipe", "dispatcher_return"]


@pytest.mark.parametrize(("flavour", "bad"), [(XDP, "ok"), (TC, "pass"), (XDP, "bogus")])
def test_unknown_proceed_on_name_is_refused(flavour: Flavour, bad: str) -> None:
    with refused(f"{flavour.name}: invalid proceed-on value {bad!r} (possible values: "):
        proceed_on_mask(flavour, [bad])


def test_xdp_config_is_libxdp_v2_layout() -> None:
    raw = XDP.config([Slot(0x80000004, 50), Slot(0x6, 100)])
    assert len(raw) == 124
    magic, version, enabled, frags = struct.unpack_from("<BBBB", raw)
    assert (magic, version, enabled, frags) == (236, 2, 2, 0)
    fields = struct.unpack_from("<30I", raw, 4)
    assert fields[0:2] == (0x80000004, 0x6) and fields[10:12] == (50, 100)
    assert not any(fields[2:10]) and not any(fields[20:])


def test_tc_config_layout() -> None:
    raw = TC.config([Slot(0x80000012, 7)])
    assert len(raw) == 84
    assert raw[0] == 1
    fields = struct.unpack_from("<20I", raw, 4)
    assert fields[0] == 0x80000012 and fields[10] == 7


def test_more_than_ten_slots_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        XDP.config([Slot(0, 1)] * 11)


@pytest.mark.parametrize("flavour", [XDP, TC])
@pytest.mark.parametrize("enabled", [0, 1, 3, MAX_PROGRAMS])
def test_config_parses_back_to_its_slots(flavour: Flavour, enabled: int) -> None:
    slots = [Slot(proceed_on_mask(flavour, []) | i, 100 + i) for i in range(enabled)]
    assert flavour.parse_config(flavour.config(slots)) == slots


def test_parse_config_ignores_what_follows_the_enabled_slots() -> None:
    raw = bytearray(XDP.config([Slot(0x6, 10), Slot(0x4, 20)]))
    raw[2] = 1  # one enabled slot: the second is stale data
    assert XDP.parse_config(bytes(raw)) == [Slot(0x6, 10)]


@pytest.mark.parametrize("flavour", [XDP, TC])
def test_names_round_trip_through_masks(flavour: Flavour) -> None:
    for name in flavour.actions:
        assert proceed_on_names(flavour, proceed_on_mask(flavour, [name])) == [name]
    every = proceed_on_mask(flavour, list(flavour.actions))
    assert proceed_on_names(flavour, every) == list(flavour.actions)
    assert proceed_on_names(flavour, 0) == []


def test_normalise() -> None:
    assert normalise(XDP, ["Drop, PASS", "drop", " ", ""]) == ["drop", "pass"]
    assert normalise(XDP, []) == ["pass", "dispatcher_return"]
    assert normalise(XDP, [","]) == ["pass", "dispatcher_return"]  # nothing named: defaults
    with refused("xdp: invalid proceed-on value 'shot' (possible values: aborted, drop, pass"):
        normalise(XDP, ["pass,shot"])


def test_flavour_names_and_objects() -> None:
    assert (XDP.name, XDP.function, XDP.object.name) == (
        "xdp",
        "xdp_dispatcher",
        "xdp_dispatcher.o",
    )
    assert (TC.name, TC.function, TC.object.name) == ("tc", "tc_dispatcher", "tc_dispatcher.o")
    assert XDP.default_proceed_on == ("pass", "dispatcher_return")
    assert TC.default_proceed_on == ("ok", "pipe", "dispatcher_return")
    # The stub's own return value is what dispatcher_return stands for.
    assert XDP.actions["dispatcher_return"] == XDP.retval
    assert TC.actions["dispatcher_return"] == TC.retval
