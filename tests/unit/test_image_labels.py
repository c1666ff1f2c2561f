"""Which program of an image a load without a function name takes (Bytecode.function_for)."""

from __future__ import annotations

import pytest

from bpfman.errors import InvalidInputError, NotFoundError
from bpfman.images.store import Bytecode

PROGRAMS = {"pass": "xdp", "count": "kprobe", "ret": "kretprobe", "a": "tc", "b": "tc"}
IMAGE = Bytecode("quay.io/x/y:v1", "sha256:0", b"", PROGRAMS, {})


@pytest.mark.parametrize(
    ("type_name", "labels", "function"),
    [
        ("xdp", {"xdp"}, "pass"),
        ("kprobe", {"kprobe"}, "count"),
        ("kprobe", {"kretprobe"}, "ret"),
    ],
)
def test_the_one_program_labelled_with_the_type(
    type_name: str, labels: set[str], function: str
) -> None:
    assert IMAGE.function_for(type_name, labels) == function


def test_several_or_none_are_refused() -> None:
    with pytest.raises(InvalidInputError, match=r"several tc programs \(a, b\): name the function"):
        IMAGE.function_for("tc", {"tc"})
    with pytest.raises(InvalidInputError, match=r"several kprobe programs \(count, ret\)"):
        IMAGE.function_for("kprobe", {"kprobe", "kretprobe"})
    with pytest.raises(NotFoundError, match=r"has no uprobe program \(it has: a \(tc\), b \(tc\)"):
        IMAGE.function_for("uprobe", {"uprobe", "uretprobe"})


def test_a_types_labels_are_its_name_and_its_sections_labels() -> None:
    from bpfman.core.plugins import get_plugin_manager

    types = get_plugin_manager().types
    assert types["kprobe"].labels == {"kprobe", "kretprobe"}
    assert types["uprobe"].labels == {"uprobe", "uretprobe"}
    assert types["xdp"].labels == {"xdp"}
