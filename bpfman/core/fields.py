"""Attach options as a program type declares them: one field, every front-end.

A type's attach options are the fields of its frozen
:class:`~bpfman.core.contract.AttachParams` dataclass. Each field says once
what the front-ends need besides its name, type and default, in its
metadata: ``field(metadata=option(...))`` gives its help, its flags, the
range it must lie in and the gRPC message field it is read from; a
``Literal[...]`` type gives its choices. The CLI builds ``bpfman attach ID
TYPE`` from these, the service its ``AttachInfo`` mapping, and the class
docstring lists them; choices and ranges are checked whenever the params are
built (:func:`check`).

(``option`` returns metadata for ``dataclasses.field`` rather than a field:
type checkers know ``field`` alone, so only it keeps a required option required.)
"""

# No `from __future__ import annotations`: typing.NamedTuple compiles each string
# annotation when it makes the class, and these resolve as they are written.
import dataclasses
import inspect
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal, NamedTuple

from bpfman import validate
from bpfman.errors import PluginError

KEY = "bpfman.option"


class GrpcField(NamedTuple):
    """Where an option is read from in its type's gRPC ``AttachInfo`` message.

    :param name: the message field (default: the option's own name).
    :param unset: what a zero or unset message field stands for (None: the
        value as sent).
    :param codes: names the message sends as numbers, name to number.
    """

    name: str = ""
    unset: int | str | None = None
    codes: Mapping[str, int] | None = None


#: Read from the message field of the option's own name, as sent.
BY_NAME = GrpcField()


class OptionSpec(NamedTuple):
    """What :func:`option` records about one field."""

    help: str
    short: str = ""
    long: str = ""
    range: tuple[int, int] | None = None
    show_default: bool = False
    grpc: GrpcField | None = BY_NAME


def option(
    help: str,
    *,
    short: str = "",
    long: str = "",
    range: tuple[int, int] | None = None,
    show_default: bool = False,
    grpc: GrpcField | None = BY_NAME,
) -> Mapping[str, OptionSpec]:
    """The metadata declaring an attach option: ``x: int = field(metadata=option(...))``.

    :param help: its help, as ``--help`` shows it under the flags.
    :param short: its short flag (``-i``), if any.
    :param long: its long flag (default: ``--`` and its name, ``_`` as ``-``).
    :param range: the inclusive bounds of an integer option.
    :param show_default: ``--help`` shows the field's default.
    :param grpc: where the service reads it from; None: it is not in the message
        (the field keeps its default).
    """
    return {KEY: OptionSpec(help, short, long, range, show_default, grpc)}


class Declared(NamedTuple):
    """One attach option with its type resolved, as every front-end reads it.

    :param kind: ``int``, ``str`` or ``bool`` (a Literal's values are strings).
    :param choices: the values of a ``Literal`` type (of the elements of a tuple).
    :param many: a ``tuple[...]`` of values.
    :param spec: the declaration; None for a field declared without :func:`option`.
    """

    name: str
    kind: type
    choices: tuple[str, ...]
    many: bool
    required: bool
    default: Any
    spec: OptionSpec | None

    @property
    def flags(self) -> list[str]:
        spec = self.spec or OptionSpec("")
        long = spec.long or "--" + self.name.replace("_", "-")
        return [spec.short, long] if spec.short else [long]


_HINTS: dict[type, dict[str, Any]] = {}
_DECLARED: dict[type, tuple[Declared, ...]] = {}


def hints(cls: type) -> dict[str, Any]:
    """``typing.get_type_hints`` of a params class, resolved once."""
    found = _HINTS.get(cls)
    if found is None:
        found = _HINTS[cls] = typing.get_type_hints(cls)
    return found


def declared(cls: type) -> tuple[Declared, ...]:
    """The attach options of a params class, in field order (resolved fields left out)."""
    found = _DECLARED.get(cls)
    if found is None:
        types = hints(cls)
        found = _DECLARED[cls] = tuple(
            _declared(f.name, f, types[f.name])
            for f in dataclasses.fields(cls)
            if f.init and not f.metadata.get("resolved")
        )
    return found


def _declared(name: str, f: dataclasses.Field[Any], hint: Any) -> Declared:
    required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    if f.default_factory is not dataclasses.MISSING:
        default = f.default_factory()
    else:
        default = None if required else f.default
    hint = _without_none(hint)
    many = typing.get_origin(hint) is tuple
    if many:
        hint = typing.get_args(hint)[0]
    choices: tuple[str, ...] = ()
    if typing.get_origin(hint) is Literal:
        choices, hint = tuple(map(str, typing.get_args(hint))), str
    kind = hint if hint in (int, str, bool) else str
    return Declared(name, kind, choices, many, required, default, f.metadata.get(KEY))


def _without_none(hint: Any) -> Any:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        rest = [a for a in typing.get_args(hint) if a is not type(None)]
        return rest[0] if len(rest) == 1 else hint
    return hint


def check(params: Any) -> None:
    """Refuse a value outside its option's ``Literal`` choices or declared range.

    A tuple of choices is left to the type: it may accept more spellings
    (the dispatcher types take ``PASS,drop``).
    """
    type_name = params.type_name
    for option in declared(type(params)):
        value = getattr(params, option.name)
        if value is None:
            continue
        if option.choices and not option.many:
            validate.choice(type_name, option.name, value, option.choices)
        if option.spec is not None and option.spec.range is not None:
            validate.within(type_name, option.name, value, option.spec.range)


def check_declarations(cls: type, order: tuple[str, ...]) -> None:
    """Refuse, at plugin load, a params class whose options cannot be built.

    :param order: the order the CLI lists them in, when not the fields' order.
    """
    try:
        options = declared(cls)
    except (NameError, TypeError) as exc:
        raise PluginError(f"{cls.__name__}: cannot read its option types: {exc}") from exc
    names = [o.name for o in options]
    for option in options:
        spec = option.spec
        if spec is None:
            raise PluginError(
                f"{cls.__name__}: option {option.name!r} is not declared:"
                " give it field(metadata=option(...))"
            )
        if spec.short and (len(spec.short) != 2 or spec.short[0] != "-"):
            raise PluginError(f"{cls.__name__}: {option.name}: invalid short flag {spec.short!r}")
        if spec.long and not spec.long.startswith("--"):
            raise PluginError(f"{cls.__name__}: {option.name}: invalid long flag {spec.long!r}")
    if order and sorted(order) != sorted(names):
        raise PluginError(
            f"{cls.__name__}: cli_order {list(order)} must name each option once: {names}"
        )


def document(cls: type) -> str:
    """The options section of a params class's docstring, from its declarations."""
    lines = [f"Options (the flags of ``bpfman attach ID {getattr(cls, 'type_name', '')}``):", ""]
    for option in _pending_options(cls):
        if option.spec is None:
            continue
        text = option.spec.help
        if option.choices and "[possible values" not in text:
            text += f"\n[possible values: {', '.join(option.choices)}]"
        if not option.required and "[default" not in text:
            text += f"\n[default: {option.default!r}]"
        lines.append(f"    {option.name} ({', '.join(option.flags)})")
        lines += [f"        {line}".rstrip() for line in text.splitlines()]
    return "\n".join(lines) if len(lines) > 2 else ""


def _pending_options(cls: type) -> list[Declared]:
    """The options of a class the dataclass decorator has not processed yet.

    The docstring is set when the class is made (``__init_subclass__``),
    before ``@dataclass`` runs: fields come from the base's fields and the
    class's own annotations, in the order the decorator will give them.
    """
    try:
        types = hints(cls)
    except (NameError, TypeError):
        return []
    found: dict[str, dataclasses.Field[Any]] = {}
    for base in reversed(cls.__mro__[1:]):
        if dataclasses.is_dataclass(base):
            found.update((f.name, f) for f in dataclasses.fields(base))
    for name in inspect.get_annotations(cls):
        value = cls.__dict__.get(name, dataclasses.MISSING)
        if typing.get_origin(types.get(name)) is typing.ClassVar:
            continue
        if not isinstance(value, dataclasses.Field):
            value = dataclasses.field(default=value)
        found[name] = value
    return [
        _declared(name, f, types[name])
        for name, f in found.items()
        if f.init and not f.metadata.get("resolved")
    ]


# -- options several types share ----------------------------------------------------
#: The two sides of a tc or tcx hook.
Direction = Literal["ingress", "egress"]

PRIORITY_TEXT = (
    "Priority to run program in chain. Lower value runs first.\n[possible values: {}-{}]".format(
        *validate.PRIORITY_RANGE
    )
)


def priority_option(*, required: bool = True) -> Mapping[str, OptionSpec]:
    """``-p, --priority``: where a link runs among the others on its hook.

    Through gRPC an unset priority (0) means last, as in the reference: the
    range's top.
    """
    return option(
        f"{'Required' if required else 'Optional'}: {PRIORITY_TEXT}",
        short="-p",
        range=validate.PRIORITY_RANGE,
        show_default=not required,
        grpc=GrpcField(unset=validate.PRIORITY_RANGE[1]),
    )


IFACE = option("Required: Interface to load program on.", short="-i")
DIRECTION = option("Required: Direction to apply program.", short="-d")
NETNS = option(
    "Optional: The file path of the target network namespace.\n"
    "Example: -n /var/run/netns/bpfman-test",
    short="-n",
)
PRIORITY = priority_option()
