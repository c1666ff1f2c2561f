"""How a gRPC ``AttachInfo`` reaches a program type's attach parameters.

The API's ``AttachInfo`` is a oneof with one message per kind of hook
(``xdp_attach_info``, ``tracepoint_attach_info``, ...). The service holds no
per-type logic: each program type *declares* which kind it is reached through
and how that message's fields become the parameters its plugin's attach
takes (the same mapping its ``bpfman attach ID TYPE`` subcommand returns).

A plugin declares this with a ``grpc_attach_info`` attribute on the object it
registers (its module): a mapping from its type names to
:class:`AttachMapping` (also exported by :mod:`bpfman.plugin`)::

    from bpfman.plugin import AttachMapping

    grpc_attach_info = {
        # reached through AttachInfo.tracepoint_attach_info; params["tracepoint"]
        "demo": AttachMapping("tracepoint_attach_info", ("tracepoint",)),
    }

The message is first turned into a plain dict of its fields (unset optional
fields are None, repeated fields lists, ``metadata`` left out: it becomes the
link's metadata). ``fields`` picks the entries to pass, optionally renamed
with ``"param=field"``; ``convert``, if given, then rewrites the dict (for
values that need translating, such as numeric proceed-on codes to names).

The built-in types declare theirs the same way, in their plugin modules.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bpfman.core.errors import InvalidInputError

ATTRIBUTE = "grpc_attach_info"
Params = dict[str, Any]


@dataclass(frozen=True)
class AttachMapping:
    """One program type's way in from ``AttachInfo``.

    :param kind: the ``AttachInfo`` oneof field, e.g. ``"xdp_attach_info"``.
    :param fields: message fields to pass as parameters; ``"param=field"`` renames.
    :param convert: optional rewrite of the picked parameters.
    """

    kind: str
    fields: tuple[str, ...] = ()
    convert: Callable[[Params], Params] | None = field(default=None, compare=False)

    def params(self, message: Mapping[str, Any]) -> Params:
        out: Params = {}
        for spec in self.fields:
            param, _, source = spec.partition("=")
            out[param] = message.get(source or param)
        return self.convert(out) if self.convert is not None else out


def codes_to_names(
    flavour: str, actions: Callable[[], Mapping[str, int]]
) -> Callable[[Params], Params]:
    """proceed_on arrives as numeric return codes; the dispatcher types take names."""

    def convert(params: Params) -> Params:
        by_code = {code: name for name, code in actions().items()}
        names = []
        for code in params.get("proceed_on") or []:
            if code not in by_code:
                known = ", ".join(f"{c} ({n})" for c, n in sorted(by_code.items()))
                raise InvalidInputError(
                    f"{flavour}: invalid proceed_on value {code} (possible values: {known})"
                )
            names.append(by_code[code])
        return {**params, "proceed_on": names}

    return convert


def default_priority(params: Params) -> Params:
    """An unset (0) priority means last, as in the reference: 1000."""
    return {**params, "priority": params.get("priority") or 1000}


def chain(*steps: Callable[[Params], Params]) -> Callable[[Params], Params]:
    """Apply ``steps`` one after the other."""

    def convert(params: Params) -> Params:
        for step in steps:
            params = step(params)
        return params

    return convert


def collect(plugins: Iterable[object], types: Iterable[str]) -> dict[str, AttachMapping]:
    """The mappings the plugins declare for ``types``.

    A type declared by two plugins is refused, as duplicate type names are.
    """
    declared: dict[str, AttachMapping] = {}
    owner: dict[str, object] = {}
    for plugin in plugins:
        table = getattr(plugin, ATTRIBUTE, None)
        if not isinstance(table, Mapping):
            continue
        for name, mapping in table.items():
            if not isinstance(mapping, AttachMapping):
                raise InvalidInputError(
                    f"plugin {plugin!r}: {ATTRIBUTE}[{name!r}] is not an AttachMapping"
                )
            if name in declared:
                raise InvalidInputError(
                    f"gRPC attach mapping for {name!r} declared by both {owner[name]!r} and {plugin!r}"
                )
            declared[name] = mapping
            owner[name] = plugin
    return {name: declared[name] for name in types if name in declared}
