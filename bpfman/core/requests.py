"""Parsing of the user's load inputs: ``TYPE:FUNC[:ATTACH]``, globals, metadata.

Pure functions, shared by the CLI and library callers, so both refuse the
same malformed input with the same message.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from .errors import InvalidInputError
from .model import APPLICATION_KEY


class ProgramRequest(NamedTuple):
    """One ``--programs`` entry."""

    type: str
    function: str
    attach_func: str | None = None

    @classmethod
    def parse(cls, text: str) -> ProgramRequest:
        parts = text.split(":")
        if len(parts) not in (2, 3) or not all(parts):
            raise InvalidInputError(
                f"invalid program {text!r}: expected <TYPE>:<FUNC_NAME> "
                "or <TYPE>:<FUNC_NAME>:<ATTACH_FUNC>"
            )
        return cls(parts[0], parts[1], parts[2] if len(parts) == 3 else None)


def parse_global(text: str) -> tuple[str, bytes]:
    """``NAME=HEX`` with plain hex digits (no ``0x``), at least one byte."""
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise InvalidInputError(f"invalid global {text!r}: expected <NAME>=<Hex Value>")
    if not value or len(value) % 2 or value.lower().startswith("0x"):
        raise InvalidInputError(
            f"invalid global {text!r}: the value must be an even number of hex digits "
            "without 0x, e.g. GLOBAL_u32=0A0B0C0D"
        )
    try:
        return name, bytes.fromhex(value)
    except ValueError:
        raise InvalidInputError(f"invalid global {text!r}: {value!r} is not hex") from None


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
        for pair in item.split(","):
            key, sep, value = pair.partition("=")
            if not sep or not key:
                raise InvalidInputError(f"invalid {what} {pair!r}: expected <KEY>=<VALUE>")
            result[key] = value
    return result


def with_application(metadata: dict[str, str], application: str | None) -> dict[str, str]:
    """Record ``--application`` as metadata unless the key was given already."""
    merged = dict(metadata)
    if application and APPLICATION_KEY not in merged:
        merged[APPLICATION_KEY] = application
    return merged
