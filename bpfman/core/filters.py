"""What ``list`` keeps: program types by either name, metadata selectors, attachment.

A program type is named the way bpfman names it (``tcx``, ``kprobe``, a
third-party plugin's type) or the way the kernel does (``probe``, ``tracing``,
``sched-cls``...): both work everywhere a type is filtered on. bpfman's name
selects bpfman's programs of that type, and programs bpfman did not load by
the type's kernel type; the kernel's name selects by kernel type throughout.

``list`` imports this module, so its classes are plain slotted ones: neither
dataclasses (with inspect) nor typing is imported.
"""

from __future__ import annotations

from contextlib import suppress

from bpfman.errors import InvalidInputError
from bpfman.kernel.names import PROG_TYPE_FILTERS, kernel_types_named, squash

from .model import APPLICATION_KEYS, ProgramRecord, SlottedValue, application_of

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence
    from typing import Literal

    from .plugins import Plugins

    # Which reading of a name that is both bpfman's and the kernel's wins (``tc``): the
    # guide's ``--program-type`` keeps the kernel meaning, the library's ``type=`` bpfman's.
    Prefer = Literal["kernel", "bpfman"]
    Op = Literal["=", "!=", "exists", "!exists"]


class TypeFilter(SlottedValue):
    """Programs of one type, by bpfman's name (``bpfman_type``) or the kernel's.

    bpfman's programs are kept by the type their records name, so only ``--all``
    (programs bpfman did not load) asks the type's plugin for its kernel type.
    """

    __slots__ = ("bpfman_type", "kernel", "plugins")

    def __init__(
        self,
        bpfman_type: str | None,
        kernel: frozenset[int] = frozenset(),
        plugins: Callable[[], Plugins] | None = None,
    ) -> None:
        self.bpfman_type, self.kernel, self.plugins = bpfman_type, kernel, plugins

    def keeps(self, record: ProgramRecord) -> bool:
        if self.bpfman_type is not None:
            return record.type == self.bpfman_type
        return record.kernel_type in self.kernel

    def keeps_kernel(self, prog_type: int) -> bool:
        """Whether a program bpfman did not load, of kernel type ``prog_type``, is kept."""
        if self.bpfman_type is not None and self.plugins is not None:
            self.kernel = frozenset({self.plugins().program_type(self.bpfman_type).kernel_type})
            self.plugins = None  # asked once
        return prog_type in self.kernel


class TypeFilters(SlottedValue):
    """Type filters that must all hold (none: every type is kept)."""

    __slots__ = ("each",)

    def __init__(self, each: tuple[TypeFilter, ...] = ()) -> None:
        self.each = each

    def keeps(self, record: ProgramRecord) -> bool:
        return all(t.keeps(record) for t in self.each)

    def keeps_kernel(self, prog_type: int) -> bool:
        return all(t.keeps_kernel(prog_type) for t in self.each)


def type_filters(
    kernel_type: str | None, type: str | None, plugins: Callable[[], Plugins]
) -> TypeFilters:
    """The library's ``kernel_type=`` (the kernel's reading first) and ``type=`` (bpfman's)."""
    named: list[tuple[str | None, Prefer]] = [(kernel_type, "kernel"), (type, "bpfman")]
    return TypeFilters(
        tuple(type_filter(name, plugins, prefer) for name, prefer in named if name is not None)
    )


def type_filter(name: str, plugins: Callable[[], Plugins], prefer: Prefer) -> TypeFilter:
    """The programs ``name`` selects; unknown to both bpfman and the kernel is an error.

    :param plugins: the plugin manager, asked only when ``name`` may be bpfman's.
    """
    if not isinstance(name, str):
        raise InvalidInputError(f"invalid program type {name!r}: expected a type name")
    kernel = frozenset(kernel_types_named(name))
    if kernel and prefer == "kernel":
        return TypeFilter(None, kernel)
    found = _bpfman_name(plugins(), name, load=not kernel)
    if found is not None:
        return TypeFilter(found, plugins=plugins)
    if kernel:
        return TypeFilter(None, kernel)
    raise InvalidInputError(
        f"unknown program type {name!r} (possible values: {type_names_text(plugins())})"
    )


def _bpfman_name(plugins: Plugins, name: str, load: bool = True) -> str | None:
    """bpfman's type ``name`` (``tp-btf`` for ``tp_btf`` too), or None.

    Entry points are named after their type, so a name is found without loading its
    plugin; ``load`` also asks every plugin, for types declared under another name.
    """
    candidates = list(dict.fromkeys((name, name.lower().replace("-", "_"))))
    known = plugins.names
    for candidate in candidates:
        if candidate in known:
            return candidate
    for candidate in candidates if load else ():
        with suppress(InvalidInputError):
            return plugins.program_type(candidate).name
    return None


def type_names_text(plugins: Plugins | Iterable[str]) -> str:
    """Every accepted type name: bpfman's (installed plugins), then the kernel's."""
    from .plugins import Plugins

    names = sorted(plugins.types) if isinstance(plugins, Plugins) else sorted(plugins)
    bpfman = {squash(n) for n in names}
    kernel = [n for n in PROG_TYPE_FILTERS.values() if squash(n) not in bpfman]
    return f"{', '.join(names)} (bpfman's); {', '.join(kernel)} (the kernel's)"


def link_kinds(kinds: str | Sequence[str] | None, plugins: Callable[[], Plugins]) -> set[str]:
    """The link types ``kinds`` names (comma-separated too), each an installed type."""
    if kinds is None:
        return set()
    words = [kinds] if isinstance(kinds, str) else list(kinds)
    found = set()
    for word in (w for item in words for w in item.split(",")):
        kind = _bpfman_name(plugins(), word.strip())
        if kind is None:
            known = ", ".join(sorted(plugins().types))
            raise InvalidInputError(f"unknown link kind {word!r} (possible values: {known})")
        found.add(kind)
    return found


class _Frozen(SlottedValue):
    """Set once, hashable by value: what selectors were as frozen dataclasses."""

    __slots__ = ()

    def __setattr__(self, name: str, value: object) -> None:
        if hasattr(self, name):
            raise AttributeError(f"cannot assign to field {name!r}")
        object.__setattr__(self, name, value)

    def __hash__(self) -> int:
        return hash(tuple(self.to_dict().values()))


class Requirement(_Frozen):
    """One term of a selector: ``key=value``, ``key!=value``, ``key`` or ``!key``."""

    __slots__ = ("key", "op", "value")

    def __init__(self, key: str, op: Op, value: str = "") -> None:
        self.key, self.op, self.value = key, op, value

    def holds(self, metadata: Mapping[str, str]) -> bool:
        if self.op == "exists":
            return self.key in metadata
        if self.op == "!exists":
            return self.key not in metadata
        equal = metadata.get(self.key) == self.value
        return equal if self.op == "=" else not equal


class Selector(_Frozen):
    """Metadata every kept program (or link) must match, as Kubernetes label selectors
    are written: ``owner=acme,env!=dev`` (``==`` is ``=``; ``key`` needs the key,
    ``!key`` its absence; ``key!=value`` also keeps what lacks the key).

    The application is one key whichever of its two names it was recorded under.
    """

    __slots__ = ("requirements",)

    def __init__(self, requirements: tuple[Requirement, ...] = ()) -> None:
        self.requirements = requirements

    @classmethod
    def parse(cls, text: str) -> Selector:
        terms = []
        for term in (t.strip() for t in text.split(",")):
            key, op, value = _term(term)
            if not key or any(c in key for c in "=!"):
                raise InvalidInputError(
                    f"invalid selector {term!r}: expected <KEY>=<VALUE>, <KEY>!=<VALUE>, "
                    "<KEY> or !<KEY>"
                )
            terms.append(Requirement(key, op, value))
        return cls(tuple(terms))

    @classmethod
    def of(cls, value: Selector | Mapping[str, str] | None) -> Selector:
        """A selector from a library argument: a selector, or ``{key: value}`` to match."""
        if value is None:
            return cls()
        if isinstance(value, Selector):
            return value
        return cls(tuple(Requirement(k, "=", v) for k, v in value.items()))

    def __and__(self, other: Selector) -> Selector:
        return Selector(self.requirements + other.requirements)

    def __bool__(self) -> bool:
        return bool(self.requirements)

    def matches(self, metadata: Mapping[str, str]) -> bool:
        if not self.requirements:
            return True
        application = application_of(dict(metadata))
        seen = (
            {**metadata, **dict.fromkeys(APPLICATION_KEYS, application)}
            if application
            else metadata
        )
        return all(req.holds(seen) for req in self.requirements)


def _term(term: str) -> tuple[str, Op, str]:
    if "!=" in term:
        key, _, value = term.partition("!=")
        return key.strip(), "!=", value.strip()
    if "=" in term:
        key, _, value = term.partition("=")
        return key.strip(), "=", value.removeprefix("=").strip()
    if term.startswith("!"):
        return term[1:].strip(), "!exists", ""
    return term, "exists", ""


def application_selector(application: str | None) -> Selector:
    """``--application NAME`` as a selector term (either key matches)."""
    if application is None:
        return Selector()
    return Selector((Requirement(APPLICATION_KEYS[0], "=", application),))
