"""The user's load inputs: ``TYPE:FUNC[:ATTACH]``, globals and metadata (bpfman/core/requests.py)."""

from __future__ import annotations

from typing import Any

import pytest

from bpfman.cli.app import with_application
from bpfman.inputs import (
    ProgramRequest,
    checked_globals,
    checked_metadata,
    parse_global,
    parse_globals,
    parse_key_values,
    program_requests,
)
from tests.helpers.raises import refused


@pytest.mark.parametrize(
    ("spec", "parsed"),
    [
        ("xdp:pass", ProgramRequest("xdp", "pass")),
        ("fentry:test_fentry:do_unlinkat", ProgramRequest("fentry", "test_fentry", "do_unlinkat")),
        ("demo:tracepoint_counter", ProgramRequest("demo", "tracepoint_counter", None)),
    ],
)
def test_program_request_parse(spec: str, parsed: ProgramRequest) -> None:
    assert ProgramRequest.parse(spec) == parsed


@pytest.mark.parametrize("spec", ["xdp", "a:b:c:d", ":pass", "xdp:", "xdp:pass:", ""])
def test_program_request_parse_refuses_malformed(spec: str) -> None:
    expected = (
        f"invalid program {spec!r}: expected <TYPE>:<FUNC_NAME> or <TYPE>:<FUNC_NAME>:<ATTACH_FUNC>"
    )
    with refused(expected):
        ProgramRequest.parse(spec)


def test_program_request_parse_refuses_a_nul_byte() -> None:
    with refused("program contains a NUL byte"):
        ProgramRequest.parse("xdp:pa\0ss")


def test_program_requests() -> None:
    given = ProgramRequest("tc", "stats")
    assert program_requests(["xdp:pass", given]) == [ProgramRequest("xdp", "pass"), given]
    with refused("no program given: use --programs <TYPE>:<FUNC_NAME>"):
        program_requests([])
    with refused("function pass is listed twice"):
        program_requests(["xdp:pass", "tc:pass"])
    # Empty functions (an image's programs, found by their labels) are checked once named.
    unnamed = [ProgramRequest("xdp", ""), ProgramRequest("tracepoint", "")]
    assert program_requests(unnamed) == unnamed


@pytest.mark.parametrize(
    ("item", "parsed"),
    [
        ("GLOBAL_u32=0A0B0C0D", ("GLOBAL_u32", b"\x0a\x0b\x0c\x0d")),
        ("x=ff", ("x", b"\xff")),
        ("x=AbCd", ("x", b"\xab\xcd")),
    ],
)
def test_parse_global(item: str, parsed: tuple[str, bytes]) -> None:
    assert parse_global(item) == parsed


@pytest.mark.parametrize(
    ("item", "message"),
    [
        ("increment", "invalid global 'increment': expected <NAME>=<Hex Value>"),
        ("=01", "invalid global '=01': expected <NAME>=<Hex Value>"),
        ("increment=", "the value must be an even number of hex digits without 0x"),
        ("increment=010", "the value must be an even number of hex digits without 0x"),
        ("increment=0x01", "the value must be an even number of hex digits without 0x"),
        ("increment=0X01", "the value must be an even number of hex digits without 0x"),
        ("increment=zz", "invalid global 'increment=zz': 'zz' is not hex"),
        ("inc\0=01", "global contains a NUL byte"),
    ],
)
def test_parse_global_refuses(item: str, message: str) -> None:
    with refused(message):
        parse_global(item)


def test_parse_globals() -> None:
    assert parse_globals([]) == {}
    assert parse_globals(["a=01", "b=0203"]) == {"a": b"\x01", "b": b"\x02\x03"}
    with refused("global a is given twice"):
        parse_globals(["a=01", "a=02"])


def test_parse_key_values() -> None:
    assert parse_key_values([]) == {}
    assert parse_key_values(["a=1,b=2", "c="]) == {"a": "1", "b": "2", "c": ""}
    assert parse_key_values(["k=v=w"]) == {"k": "v=w"}  # the first '=' splits
    assert parse_key_values(["a=1", "a=2"]) == {"a": "2"}  # the last one wins


@pytest.mark.parametrize(
    ("items", "what", "message"),
    [
        (["novalue"], "metadata", "invalid metadata 'novalue': expected <KEY>=<VALUE>"),
        (["=v"], "metadata", "invalid metadata '=v': expected <KEY>=<VALUE>"),
        (["a=1,b"], "selector", "invalid selector 'b': expected <KEY>=<VALUE>"),
        (["a=1,"], "metadata", "invalid metadata '': expected <KEY>=<VALUE>"),
        (["a=\0"], "metadata", "metadata contains a NUL byte"),
    ],
)
def test_parse_key_values_refuses(items: list[str], what: str, message: str) -> None:
    with refused(message):
        parse_key_values(items, what)


def test_checked_metadata() -> None:
    assert checked_metadata(None) == {}
    assert checked_metadata({"owner": "acme", "empty": ""}) == {"owner": "acme", "empty": ""}


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ({"k": 1}, "invalid metadata 'k'=1: keys and values must be strings"),
        ({2: "v"}, "invalid metadata 2='v': keys and values must be strings"),
        ({"": "v"}, "invalid metadata ''='v': keys and values must be strings"),
        ({"k\0": "v"}, "metadata key contains a NUL byte"),
        ({"k": "\ud800"}, "metadata value is not valid UTF-8"),
    ],
)
def test_checked_metadata_refuses(metadata: dict[Any, Any], message: str) -> None:
    with refused(message):
        checked_metadata(metadata)


def test_checked_globals() -> None:
    assert checked_globals(None) == {}
    given: dict[str, Any] = {"a": b"\x01", "b": bytearray(b"\x02")}  # library callers' bytearray
    checked = checked_globals(given)
    assert checked == {"a": b"\x01", "b": b"\x02"}
    assert type(checked["b"]) is bytes


@pytest.mark.parametrize(
    ("globals_", "message"),
    [
        ({"": b"\x01"}, "invalid global name ''"),
        ({1: b"\x01"}, "invalid global name 1"),
        ({"a": "0A0B"}, "invalid global a: the value must be non-empty bytes, got str"),
        ({"a": b""}, "invalid global a: the value must be non-empty bytes, got bytes"),
        ({"a": 1}, "(use bytes.fromhex('0A0B0C0D'))"),
        ({"a\0": b"\x01"}, "global name contains a NUL byte"),
    ],
)
def test_checked_globals_refuses(globals_: dict[Any, Any], message: str) -> None:
    with refused(message):
        checked_globals(globals_)


def test_with_application() -> None:
    assert with_application({}, None) == {}
    assert with_application({"a": "1"}, "app") == {"a": "1", "bpfman.io/application": "app"}
    # An explicit application, under either key, wins over --application.
    for key in ("bpfman.io/application", "bpfman_application"):
        mine = {key: "mine"}
        assert with_application(mine, "app") == mine
        assert with_application(mine, "app") is not mine
