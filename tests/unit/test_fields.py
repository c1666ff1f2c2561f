"""Attach options declared once (bpfman/core/fields.py): types, checks, docs, load checks."""

from __future__ import annotations

import pydoc
from dataclasses import dataclass, field
from typing import ClassVar, Literal

import pytest

from bpfman.core.contract import AttachParams, ProgramType, TypeHandler
from bpfman.core.fields import GrpcField, check_declarations, declared, option
from bpfman.core.hookspecs import hookimpl
from bpfman.core.plugins import get_plugin_manager
from bpfman.errors import PluginError
from tests.helpers.raises import refused


@dataclass(frozen=True)
class Hook(AttachParams):
    """Where a sample program runs."""

    type_name: ClassVar[str] = "sample"
    side: Literal["left", "right"] = field(metadata=option("Required: The side.", short="-s"))
    level: int = field(
        default=5,
        metadata=option("Optional: How deep.", range=(1, 9), grpc=GrpcField("depth", unset=9)),
    )
    tags: tuple[Literal["a", "b"], ...] = field(default=(), metadata=option("Optional: Tags."))
    name: str | None = field(default=None, metadata=option("Optional: A name.", grpc=None))
    quiet: bool = field(default=False, metadata=option("Optional: Say less.", long="--shush"))


def test_each_option_is_read_once_with_its_type_resolved() -> None:
    side, level, tags, name, quiet = declared(Hook)
    assert (side.name, side.kind, side.choices, side.required) == (
        "side",
        str,
        ("left", "right"),
        True,
    )
    assert side.flags == ["-s", "--side"]
    assert (level.kind, level.default, level.required) == (int, 5, False)
    assert level.spec is not None and level.spec.grpc == GrpcField("depth", unset=9)
    assert (tags.many, tags.choices, tags.default) == (True, ("a", "b"), ())
    assert (name.kind, name.default) == (str, None)
    assert name.spec is not None and name.spec.grpc is None
    assert (quiet.kind, quiet.flags) == (bool, ["--shush"])


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"side": "up"}, "sample: invalid side 'up' (possible values: left, right)"),
        ({"side": "left", "level": 0}, "sample: level 0 is out of range 1-9"),
        ({"side": "left", "level": 10}, "sample: level 10 is out of range 1-9"),
        ({"side": 3}, "sample: side must be a string, got 3"),
    ],
)
def test_choices_and_ranges_are_checked_however_the_params_are_built(
    raw: dict[str, object], message: str
) -> None:
    with refused(message):
        Hook.from_mapping(raw)
    if isinstance(raw["side"], str):
        with refused(message):
            Hook(**raw)  # type: ignore[arg-type]


def test_a_tuple_of_choices_is_left_to_the_type() -> None:
    """The dispatcher types accept more spellings (``PASS,drop``) and check them themselves."""
    assert Hook.from_mapping({"side": "right", "tags": ["A,b"]}).tags == ("A,b",)


def test_the_docstring_lists_the_declared_options() -> None:
    text = pydoc.plain(pydoc.render_doc(Hook))
    assert "Where a sample program runs." in text
    assert "side (-s, --side)" in text
    assert "Required: The side." in text
    assert "[possible values: left, right]" in text
    assert "level (--level)" in text and "[default: 5]" in text
    assert "quiet (--shush)" in text


class _Undeclared(AttachParams):
    type_name: ClassVar[str] = "bare"


@dataclass(frozen=True)
class Bare(_Undeclared):
    where: str


@dataclass(frozen=True)
class BadFlag(AttachParams):
    where: str = field(metadata=option("Required: where.", short="w"))


@pytest.mark.parametrize(
    ("cls", "order", "message"),
    [
        (Bare, (), "Bare: option 'where' is not declared: give it field(metadata=option(...))"),
        (BadFlag, (), "BadFlag: where: invalid short flag 'w'"),
        (Hook, ("side", "level"), "Hook: cli_order ['side', 'level'] must name each option once"),
    ],
)
def test_declarations_that_cannot_be_built_are_refused(
    cls: type, order: tuple[str, ...], message: str
) -> None:
    with refused(message, PluginError):
        check_declarations(cls, order)


class _BareHandler(TypeHandler[Bare]):
    pass


class _Plugin:
    def __init__(self, handler: TypeHandler[Bare]) -> None:
        self.handler = handler

    @hookimpl
    def bpfman_program_types(self) -> list[ProgramType]:
        return [ProgramType("bare", 5, handler=self.handler)]


@pytest.mark.parametrize(
    ("handler", "message"),
    [
        (_BareHandler(), "type 'bare': Bare: option 'where' is not declared"),
        (TypeHandler(), "type 'bare': its handler names no AttachParams class"),
    ],
)
def test_a_plugin_whose_declaration_cannot_be_built_fails_to_load(
    handler: TypeHandler[Bare], message: str
) -> None:
    with refused(message, PluginError):
        get_plugin_manager(extra=[_Plugin(handler)], entry_points=False)
