"""The plugin contract: typed attach options, journal resources, types (bpfman/core/contract.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import msgpack
import pytest

from bpfman.core.contract import (
    AttachParams,
    ProgramType,
    Resource,
    TypeHandler,
    resolved,
)
from bpfman.errors import PluginError
from tests.helpers.raises import refused


@dataclass(frozen=True)
class Sample(AttachParams):
    """One field of every kind ``from_mapping`` knows."""

    type_name: ClassVar[str] = "sample"
    name: str
    count: int
    flag: bool = False
    names: tuple[str, ...] = ()
    pid: int | None = None
    found: str = resolved("")


def test_from_mapping_builds_and_converts_lists() -> None:
    params = Sample.from_mapping({"name": "a", "count": 3, "names": ["x", "y"], "pid": None})
    assert params == Sample("a", 3, False, ("x", "y"), None)
    assert Sample.from_mapping({"name": "a", "count": 0, "names": ("x",)}).names == ("x",)


def test_to_record_is_plain_data() -> None:
    record = Sample("a", 3, True, ("x",), 7).to_record()
    assert record == {
        "name": "a",
        "count": 3,
        "flag": True,
        "names": ["x"],
        "pid": 7,
        "found": "",
    }


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"count": 1}, "sample: missing option 'name'"),
        (
            {"name": "a", "count": 1, "colour": "red"},
            "sample: unknown option 'colour' (options: name, count, flag, names, pid)",
        ),
        ({"name": "a", "count": 1, "found": "/x"}, "sample: unknown option 'found'"),
        ({"name": 1, "count": 1}, "sample: name must be a string, got 1"),
        ({"name": "a", "count": "1"}, "sample: count must be an integer, got '1'"),
        ({"name": "a", "count": True}, "sample: count must be an integer, got True"),
        ({"name": "a", "count": 1, "flag": 1}, "sample: flag must be a boolean, got 1"),
        (
            {"name": "a", "count": 1, "names": "xy"},
            "sample: names must be a list of strings, got 'xy'",
        ),
        (
            {"name": "a", "count": 1, "names": ["x", 2]},
            "sample: names must be a list of strings, got ['x', 2]",
        ),
        ({"name": "a", "count": 1, "pid": "7"}, "sample: pid must be an integer or None, got '7'"),
    ],
)
def test_from_mapping_refuses(raw: dict[str, Any], message: str) -> None:
    with refused(message):
        Sample.from_mapping(raw)


def test_from_mapping_names_the_unknown_options_alphabetically_first() -> None:
    with refused("sample: unknown option 'a'"):
        Sample.from_mapping({"name": "n", "count": 1, "z": 0, "a": 0})


def test_resource_round_trip() -> None:
    resource = Resource("qdisc", {"ifindex": 3, "netns": "/var/run/netns/x"}, owner="tc")
    data = resource.to_dict()
    assert data == {"kind": "qdisc", "data": dict(resource.data), "owner": "tc"}
    assert Resource.from_dict(data) == resource
    # What the journal really stores: the dict through msgpack.
    assert Resource.from_dict(msgpack.unpackb(msgpack.packb(data))) == resource


def test_resource_core_kinds() -> None:
    assert Resource.pin("/sys/fs/bpf/x") == Resource("pin", {"path": "/sys/fs/bpf/x"})
    tree = Resource.tree(_PathLike())
    assert (tree.kind, tree.data, tree.owner) == ("tree", {"path": "/a/b"}, "")
    assert Resource.from_dict({"kind": "pin", "data": {"path": "/p"}}).owner == ""


class _PathLike:
    def __str__(self) -> str:
        return "/a/b"


def test_program_type_matches_sections() -> None:
    tc = ProgramType("tc", 3, section_prefixes=("tc", "classifier"), handler=TypeHandler())
    assert tc.matches_section("tc")
    assert tc.matches_section("classifier/stats")
    assert not tc.matches_section("tcx/ingress")
    assert not tc.matches_section("tc_other")


def test_handler_defaults() -> None:
    handler: TypeHandler[Sample] = TypeHandler()
    with pytest.raises(PluginError, match="no way to release a 'qdisc' resource"):
        handler.release(Resource("qdisc", {}))
