"""Proceed-on names to chain-call masks, with the documented defaults, and the option."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from bpfman.core.fields import GrpcField, OptionSpec, option
from bpfman.errors import InvalidInputError

from .flavours import Flavour


def proceed_on_option(flavour: Flavour, example: str) -> Mapping[str, OptionSpec]:
    """``--proceed-on`` of ``attach xdp|tc``, from the flavour's own table.

    The gRPC messages send the names as their verdict numbers.
    """
    return option(
        "Optional: Proceed to call other programs in chain on this exit code.\n"
        "Multiple values supported by repeating the parameter.\n"
        f"Example: {example}\n\n"
        f"[possible values: {', '.join(flavour.actions)}]\n\n"
        f"[default: {', '.join(flavour.default_proceed_on)}]",
        grpc=GrpcField(codes=flavour.actions),
    )


def normalise(flavour: Flavour, names: Iterable[str]) -> list[str]:
    """Validated, de-duplicated names; empty means the flavour's defaults."""
    out: list[str] = []
    for raw in names:
        for name in raw.split(","):
            name = name.strip().lower()
            if not name:
                continue
            if name not in flavour.actions:
                known = ", ".join(flavour.actions)
                raise InvalidInputError(
                    f"{flavour.name}: invalid proceed-on value {name!r} (possible values: {known})"
                )
            if name not in out:
                out.append(name)
    return out or list(flavour.default_proceed_on)


def proceed_on_names(flavour: Flavour, mask: int) -> list[str]:
    """The names a chain-call mask stands for (the inverse of :func:`proceed_on_mask`)."""
    return [n for n, v in flavour.actions.items() if mask & (1 << (v + flavour.bit_offset))]


def proceed_on_mask(flavour: Flavour, names: Iterable[str]) -> int:
    """The chain-call mask: bit ``verdict + bit_offset`` for each name."""
    mask = 0
    for name in normalise(flavour, names):
        mask |= 1 << (flavour.actions[name] + flavour.bit_offset)
    return mask
