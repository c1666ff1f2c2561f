"""Checks shared by every entry point: the CLI, the library and the service.

Each attach option is checked by one function here, called from the type's
:class:`~bpfman.core.contract.AttachParams` (choices and declared ranges by
:func:`bpfman.core.fields.check`), so the same bad value gets the same
one-line error wherever it comes from. The CLI takes its ranges from here too.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal, get_args

from bpfman.errors import InvalidInputError

#: When an image pull may use the network (Kubernetes' names; bpfman.images.PullPolicy).
PullPolicyName = Literal["Always", "IfNotPresent", "Never"]
PULL_POLICIES: tuple[str, ...] = get_args(PullPolicyName)
PRIORITY_RANGE = (1, 1000)
IFNAMSIZ = 16
U64_MAX = 2**64 - 1
U64_RANGE = (0, U64_MAX)


def text(what: str, value: str) -> str:
    """A string bpfman will record: valid UTF-8 and no NUL byte."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInputError(f"{what} is not valid UTF-8: {value!r}") from None
    if "\0" in value:
        raise InvalidInputError(f"{what} contains a NUL byte")
    return value


def within(type_name: str, name: str, value: int, bounds: tuple[int, int]) -> int:
    """An integer inside the inclusive ``bounds``."""
    low, high = bounds
    if not low <= value <= high:
        raise InvalidInputError(f"{type_name}: {name} {value} is out of range {low}-{high}")
    return value


def choice(type_name: str, name: str, value: str, allowed: Iterable[str]) -> str:
    options = list(allowed)
    if value not in options:
        raise InvalidInputError(
            f"{type_name}: invalid {name} {value!r} (possible values: {', '.join(options)})"
        )
    return value


def iface(type_name: str, value: str) -> str:
    """An interface name as the kernel accepts it (at most 15 bytes, no '/' or space)."""
    text(f"{type_name}: interface name", value)
    if not value or len(value.encode()) >= IFNAMSIZ or any(c in value for c in "/ \t\n:"):
        raise InvalidInputError(f"{type_name}: invalid interface name {value!r}")
    return value


def interface_hook(type_name: str, iface_name: str, netns: str | None) -> None:
    """What every interface hook type (xdp, tc, tcx, netkit) takes: checked alike
    (their priority's range is declared with the option)."""
    iface(type_name, iface_name)
    path(type_name, "netns", netns)


def positive(type_name: str, name: str, value: int | None) -> int | None:
    if value is not None and value <= 0:
        raise InvalidInputError(f"{type_name}: invalid {name} {value}: must be positive")
    return value


def u64(type_name: str, name: str, value: int) -> int:
    return within(type_name, name, value, U64_RANGE)


def path(type_name: str, name: str, value: str | None) -> str | None:
    if value is not None:
        text(f"{type_name}: {name}", value)
        if not value:
            raise InvalidInputError(f"{type_name}: {name} is empty")
    return value
