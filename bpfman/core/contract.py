"""What a program type is to the core: its declaration, its handler, its options.

A plugin declares :class:`ProgramType` objects; each carries the
:class:`TypeHandler` that serves it, and the core calls that handler
directly (a registry keyed by type name, as pyroute2 keys tc kinds), loading
only the plugin that owns the type. Attach options are a frozen dataclass
per type (:class:`AttachParams`) whose fields declare each option once
(:mod:`bpfman.core.fields`): the CLI's subcommand, the service's mapping and
the docs are derived from it, and all three build the same object, so each
option is validated once, in one place. A type hands the front-ends data;
it never imports them.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Literal, Self, TypeVar

from bpfman.errors import InvalidInputError, PluginError

from . import fields

# Recorded values the core reads on every path, kept in .model (free of dataclasses);
# plugins find them here with the rest of the contract.
from .model import LinkView as LinkView
from .model import Resource as Resource
from .model import plain_view as plain_view

if TYPE_CHECKING:
    from .context import AttachContext, DetachContext, LoadContext, RecoverContext
    from .model import ProgramRecord


P = TypeVar("P", bound="AttachParams")


# eq and repr off: each subclass, a frozen dataclass, makes its own from its fields,
# and the base (which has none) making them too cost every plugin's import.
@dataclass(frozen=True, eq=False, repr=False)
class AttachParams:
    """A program type's attach options; subclass as a frozen dataclass.

    Declare each field with ``field(metadata=option(...))``
    (:func:`bpfman.core.fields.option`) and give choices as a ``Literal``
    type. Choices and declared ranges are checked here; check the rest in
    ``__post_init__`` (calling ``super().__post_init__()`` first) with the
    shared validators (:mod:`bpfman.validate`), raising :class:`InvalidInputError`.
    """

    type_name: ClassVar[str] = ""
    #: The order ``bpfman attach ID TYPE --help`` lists the options in, when
    #: not the fields' order (which is the order of positional arguments).
    cli_order: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Append the options section, from the declarations, to the class docstring."""
        super().__init_subclass__(**kwargs)
        written = cls.__dict__.get("__doc__") or f"The {cls.type_name} type's attach options."
        section = fields.document(cls)
        cls.__doc__ = f"{written.rstrip()}\n\n{section}\n" if section else written

    def __post_init__(self) -> None:
        fields.check(self)

    @classmethod
    def from_mapping(cls, raw: Mapping[str, object]) -> Self:
        """Build from a mapping (library and service callers), checking names and types."""
        hints = fields.hints(cls)
        known = {
            f.name: f for f in dataclasses.fields(cls) if f.init and not f.metadata.get("resolved")
        }
        unknown = sorted(set(raw) - set(known))
        if unknown:
            raise InvalidInputError(
                f"{cls.type_name}: unknown option {unknown[0]!r} "
                f"(options: {', '.join(known) or 'none'})"
            )
        values: dict[str, Any] = {}
        for name, f in known.items():
            if name not in raw:
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                    raise InvalidInputError(f"{cls.type_name}: missing option {name!r}")
                continue
            values[name] = _typed(cls.type_name, name, hints[name], raw[name])
        return cls(**values)

    def to_record(self) -> dict[str, Any]:
        """The options as recorded with the link (msgpack- and JSON-friendly)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in vars(self).items()}


def resolved(default: Any) -> Any:
    """A field the handler's ``resolve`` fills in; callers cannot set it."""
    return field(default=default, metadata={"resolved": True})


def _typed(type_name: str, name: str, hint: Any, value: object) -> Any:
    """``value`` if it fits ``hint`` (int, str, bool, Literal, tuple[str, ...], optionals).

    A Literal's values are checked when the params are built.
    """
    union = typing.get_origin(hint) in (typing.Union, types.UnionType)
    options = typing.get_args(hint) if union else (hint,)
    for option in options:
        if option is type(None) and value is None:
            return None
        if option is bool and isinstance(value, bool):
            return value
        if option is int and isinstance(value, int) and not isinstance(value, bool):
            return value
        if (option is str or typing.get_origin(option) is Literal) and isinstance(value, str):
            return value
        if (
            typing.get_origin(option) is tuple
            and isinstance(value, list | tuple)
            and all(isinstance(v, str) for v in value)
        ):
            return tuple(value)
    wanted = " or ".join(_type_text(o) for o in options)
    raise InvalidInputError(f"{type_name}: {name} must be {wanted}, got {value!r}")


def _type_text(hint: Any) -> str:
    if hint is type(None):
        return "None"
    if typing.get_origin(hint) is tuple:
        return "a list of strings"
    if typing.get_origin(hint) is Literal:
        return "a string"
    return {int: "an integer", str: "a string", bool: "a boolean"}.get(hint, str(hint))


class TypeHandler(Generic[P]):
    """Serves one or more program types: validation, attach, detach, description.

    Subclass as ``TypeHandler[YourParams]`` and implement :meth:`attach`;
    the other methods have defaults that suit types whose links are plain
    pinned bpf_links.
    """

    #: The options class (unless set, the subscript: ``TypeHandler[TcxParams]``;
    #: a handler class serving several types sets it per instance).
    params: type[P]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "params" not in cls.__dict__:
            for base in getattr(cls, "__orig_bases__", ()):
                given = typing.get_args(base)
                if given and isinstance(given[0], type):
                    cls.params = given[0]

    def prepare_load(self, ctx: LoadContext) -> None:
        """Check or adjust a program before load (``ctx.obj``); record data with ``ctx.keep``."""

    def resolve(self, params: P, program: ProgramRecord) -> P:
        """Expensive resolution that needs no lock (file lookups); runs before attach."""
        return params

    def attach(self, ctx: AttachContext, params: P) -> dict[str, Any]:
        """Attach in the kernel; return what to record (shown as the link's params).

        Declare every persistent kernel object with ``ctx.intend`` before
        creating it, and pin bpf_links with ``ctx.pin_link``.
        """
        raise NotImplementedError

    def describe(self, recorded: Mapping[str, Any]) -> LinkView:
        """The link's attachment text and ``get link`` rows, from what attach recorded."""
        return plain_view(recorded)

    def detach(self, ctx: DetachContext) -> None:
        """Remove the link; by default the core retires its pin, which ends a bpf_link."""
        if ctx.link.pin:
            ctx.retire(Resource.link(ctx.link.pin))

    def release(self, resource: Resource) -> None:
        """Remove a kernel object of one of this plugin's resource kinds, if it exists."""
        raise PluginError(f"no way to release a {resource.kind!r} resource")

    def reconcile(self, ctx: RecoverContext) -> None:
        """Drop records of this plugin whose kernel objects are gone (after a crash)."""

    def adopt(self, ctx: RecoverContext) -> list[str]:
        """Rebuild this plugin's records from what its bpffs directory holds (lost store)."""
        return []

    def sweep(self, ctx: RecoverContext) -> list[str]:
        """Remove kernel objects of this plugin that no pin holds (lost store)."""
        return []


@dataclass(frozen=True)
class ProgramType:
    """A bpfman program type as a plugin declares it.

    :param name: the type name users pass in ``--programs`` and ``attach``.
    :param kernel_type: the kernel's BPF_PROG_TYPE_* number.
    :param expected_attach_type: BPF_* attach type set at load, if any.
    :param needs_attach_func: ``TYPE:FUNC:ATTACH_FUNC`` is required at load.
    :param optional_attach_func: ``TYPE:FUNC:ATTACH_FUNC`` is accepted but not
        required (the handler finds a default, e.g. in the ELF section name).
    :param section_prefixes: ELF section prefixes that mean this type (used
        to infer and to check types against object files).
    :param section_labels: ``(prefix, label)`` pairs: how a program in such a
        section is named in an image's ``io.ebpf.programs`` label when that is
        not the type name (``kretprobe`` for a kprobe type, as the reference writes).
    :param handler: the object that serves the type; its ``params`` class
        declares the attach options every front-end takes.
    :param attach_help: what ``bpfman attach ID NAME`` does, in one line.
    :param attach_info: the gRPC ``AttachInfo`` field the type is attached
        through (``"tracepoint_attach_info"``); empty: not through gRPC. The
        message's fields become the params as the params' options declare.
    :param attach_command: ``module:attr`` of a click command that replaces
        the ``attach ID NAME`` subcommand built from the options, for a type
        whose CLI needs more; its callback returns the params, and the CLI
        adds ``--metadata`` and ``--output`` and attaches.
    """

    name: str
    kernel_type: int
    expected_attach_type: int | None = None
    needs_attach_func: bool = False
    optional_attach_func: bool = False
    section_prefixes: tuple[str, ...] = ()
    handler: TypeHandler[Any] = field(kw_only=True)
    section_labels: tuple[tuple[str, str], ...] = ()
    plugin: str = ""
    attach_help: str = ""
    attach_info: str = ""
    attach_command: str = ""

    @property
    def params(self) -> type[AttachParams]:
        """The type's attach options."""
        found: type[AttachParams] = self.handler.params
        return found

    def matches_section(self, section: str) -> bool:
        return any(_in_section(section, p) for p in self.section_prefixes)

    def label(self, section: str) -> str:
        """The image label for a program of this type in ``section``."""
        return next((lbl for p, lbl in self.section_labels if _in_section(section, p)), self.name)

    @property
    def labels(self) -> frozenset[str]:
        """Every image label that names a program of this type."""
        return frozenset((self.name, *(lbl for _, lbl in self.section_labels)))


def _in_section(section: str, prefix: str) -> bool:
    return section == prefix or section.startswith(prefix + "/")
