"""Parsing of the user's load inputs: ``TYPE:FUNC[:ATTACH]``, globals, metadata.

Pure functions, shared by the CLI and library callers, so both refuse the
same malformed input with the same message.
"""

from collections.abc import Iterable, Mapping, Sequence
from typing import NamedTuple

from bpfman.errors import InvalidInputError
from bpfman.validate import text


class ProgramRequest(NamedTuple):
    """One ``--programs`` entry."""

    type: str
    function: str
    attach_func: str | None = None

    @classmethod
    def parse(cls, spec: str) -> "ProgramRequest":
        parts = text("program", spec).split(":")
        if len(parts) not in (2, 3) or not all(parts):
            raise InvalidInputError(
                f"invalid program {spec!r}: expected <TYPE>:<FUNC_NAME> "
                "or <TYPE>:<FUNC_NAME>:<ATTACH_FUNC>"
            )
        return cls(parts[0], parts[1], parts[2] if len(parts) == 3 else None)


def program_requests(programs: Sequence[ProgramRequest | str]) -> list[ProgramRequest]:
    """``--programs`` entries as requests; at least one, no function twice."""
    requests = [p if isinstance(p, ProgramRequest) else ProgramRequest.parse(p) for p in programs]
    if not requests:
        raise InvalidInputError("no program given: use --programs <TYPE>:<FUNC_NAME>")
    seen: set[str] = set()
    for req in requests:
        if req.function and req.function in seen:  # an empty one (image labels) is named later
            raise InvalidInputError(f"function {req.function} is listed twice")
        seen.add(req.function)
    return requests


class HexValue(bytes):
    """Bytes parsed from hex that remember the text as written (shown as given)."""

    text: str

    def __new__(cls, text: str) -> "HexValue":
        value = super().__new__(cls, bytes.fromhex(text))
        value.text = text
        return value


def shown_hex(value: bytes) -> str:
    """How a global's value is recorded and shown: as the user wrote it, if they did."""
    return value.text if isinstance(value, HexValue) else value.hex()


def parse_global(item: str) -> tuple[str, bytes]:
    """``NAME=HEX`` with plain hex digits (no ``0x``), at least one byte."""
    name, sep, value = text("global", item).partition("=")
    if not sep or not name:
        raise InvalidInputError(f"invalid global {item!r}: expected <NAME>=<Hex Value>")
    if not value or len(value) % 2 or value.lower().startswith("0x"):
        raise InvalidInputError(
            f"invalid global {item!r}: the value must be an even number of hex digits "
            "without 0x, e.g. GLOBAL_u32=0A0B0C0D"
        )
    try:
        return name, HexValue(value)
    except ValueError:
        raise InvalidInputError(f"invalid global {item!r}: {value!r} is not hex") from None


def parse_globals(items: Iterable[str]) -> dict[str, bytes]:
    result: dict[str, bytes] = {}
    for item in items:
        name, value = parse_global(item)
        if name in result:
            raise InvalidInputError(f"global {name} is given twice")
        result[name] = value
    return result


def parse_key_values(items: Iterable[str], what: str = "metadata") -> dict[str, str]:
    """``KEY=VALUE`` pairs; each item may itself hold comma-separated pairs."""
    result: dict[str, str] = {}
    for item in items:
        for pair in text(what, item).split(","):
            key, sep, value = pair.partition("=")
            if not sep or not key:
                raise InvalidInputError(f"invalid {what} {pair!r}: expected <KEY>=<VALUE>")
            result[key] = value
    return result


def checked_metadata(metadata: Mapping[str, str] | None) -> dict[str, str]:
    """Library metadata: string keys and values only (as the CLI can give)."""
    result: dict[str, str] = {}
    for key, value in (metadata or {}).items():
        if not isinstance(key, str) or not isinstance(value, str) or not key:
            raise InvalidInputError(
                f"invalid metadata {key!r}={value!r}: keys and values must be strings"
            )
        result[text("metadata key", key)] = text("metadata value", value)
    return result


def checked_globals(globals: Mapping[str, bytes] | None) -> dict[str, bytes]:
    """Library globals: names mapped to the raw bytes to write (not hex strings)."""
    result: dict[str, bytes] = {}
    for name, value in (globals or {}).items():
        if not isinstance(name, str) or not name:
            raise InvalidInputError(f"invalid global name {name!r}")
        if not isinstance(value, bytes | bytearray) or not value:
            raise InvalidInputError(
                f"invalid global {name}: the value must be non-empty bytes, got "
                f"{type(value).__name__} (use bytes.fromhex('0A0B0C0D'))"
            )
        result[text("global name", name)] = value if isinstance(value, bytes) else bytes(value)
    return result
