"""``attach ID TYPE`` built from a type's declaration (bpfman/cli/attach.py), and the one
way a type supplies a command of its own (``ProgramType.attach_command``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

import click
import pytest
from click.testing import CliRunner

from bpfman.cli.app import App
from bpfman.cli.attach import attach_command
from bpfman.core.contract import AttachParams, ProgramType, TypeHandler
from bpfman.core.fields import option
from bpfman.errors import PluginError
from tests.helpers.raises import refused


@dataclass(frozen=True)
class Sample(AttachParams):
    type_name: ClassVar[str] = "sample"
    cli_order: ClassVar[tuple[str, ...]] = ("level", "side", "tags", "quiet")
    side: Literal["left", "right"] = field(metadata=option("Required: The side.", short="-s"))
    level: int = field(
        default=5, metadata=option("Optional: How deep.", range=(1, 9), show_default=True)
    )
    tags: tuple[Literal["red", "green"], ...] = field(default=(), metadata=option("Tags."))
    quiet: bool = field(default=False, metadata=option("Optional: Say less."))


class Handler(TypeHandler[Sample]):
    pass


class Recording(App):
    """An App that records what would be attached."""

    def __init__(self) -> None:
        super().__init__(None)
        self.attached: list[tuple[int, AttachParams, dict[str, str]]] = []

    def attach(self, program_id: int, params: AttachParams, metadata: dict[str, str]) -> None:
        self.attached.append((program_id, params, metadata))


def invoke(ptype: ProgramType, *args: str) -> tuple[Recording, Any]:
    """Run ``attach 7 NAME ARGS`` with a recording App."""
    app = Recording()

    @click.group()
    @click.argument("program_id", type=int)
    def attach(program_id: int) -> None:
        pass

    attach.add_command(attach_command(ptype))
    result = CliRunner().invoke(attach, ["7", ptype.name, *args], obj=app)
    return app, result


SAMPLE = ProgramType("sample", 5, handler=Handler(), attach_help="Attach a sample.")


def test_each_declared_field_is_an_option_in_the_declared_order() -> None:
    command = attach_command(SAMPLE)
    assert command.help == "Attach a sample."
    options = [p for p in command.params if isinstance(p, click.Option)]
    assert [o.opts for o in options] == [
        ["--level"], ["-s", "--side"], ["--tags"], ["--quiet"], ["-m", "--metadata"], ["--output"]
    ]  # fmt: skip
    level, side, tags, quiet = options[:4]
    assert isinstance(level.type, click.IntRange) and (level.type.min, level.type.max) == (1, 9)
    assert level.default == 5 and level.show_default and not level.required
    assert isinstance(side.type, click.Choice) and side.required
    assert tags.multiple
    assert [item.value for item in tags.shell_complete(click.Context(command), "g")] == ["green"]
    assert quiet.is_flag


def test_the_options_build_the_params_and_attach() -> None:
    app, result = invoke(SAMPLE, "-s", "left", "--tags", "red", "green", "-m", "k=v", "--quiet")
    assert result.exit_code == 0, result.output
    assert app.attached == [(7, Sample("left", 5, ("red", "green"), True), {"k": "v"})]
    _, result = invoke(SAMPLE, "-s", "up")
    assert "'up' is not one of 'left', 'right'" in result.output


@click.command()
@click.option("--where", required=True)
def custom(where: str) -> Sample:
    return Sample("right" if where == "east" else "left")


def test_a_type_may_name_a_command_of_its_own() -> None:
    ptype = ProgramType(
        "sample", 5, handler=Handler(), attach_command=f"{__name__}:custom", attach_help="x"
    )
    app, result = invoke(ptype, "--where", "east", "--output", "json")
    assert result.exit_code == 0, result.output
    assert app.attached == [(7, Sample("right"), {})] and app.output == "json"
    assert [o.opts for o in attach_command(ptype).params] == [
        ["--where"], ["-m", "--metadata"], ["--output"]
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("no.such.module:command", "cannot import its attach_command 'no.such.module:command'"),
        (f"{__name__}:nothing", f"cannot import its attach_command '{__name__}:nothing'"),
        (f"{__name__}:SAMPLE", f"attach_command '{__name__}:SAMPLE' is not a click command"),
    ],
)
def test_a_custom_command_that_cannot_be_found_is_a_plugin_error(spec: str, message: str) -> None:
    ptype = ProgramType("sample", 5, handler=Handler(), attach_command=spec)
    with refused(message, PluginError):
        attach_command(ptype)
