"""What ``list`` keeps (bpfman/core/filters.py): type names of both kinds, selectors."""

from __future__ import annotations

import pytest

from bpfman.core.filters import Requirement, Selector, link_kinds, type_filter, type_names_text
from bpfman.core.model import ProgramRecord
from bpfman.core.plugins import Plugins, get_plugin_manager
from bpfman.errors import InvalidInputError
from bpfman.kernel import PROG_TYPE
from bpfman.plugin import ProgramType, hookimpl
from bpfman.plugins.tracepoint.handler import Tracepoint


class _Demo:
    """A third-party type whose programs are tracepoints to the kernel."""

    @hookimpl
    def bpfman_program_types(self) -> list[ProgramType]:
        return [ProgramType("my_demo", PROG_TYPE.TRACEPOINT, handler=Tracepoint())]


@pytest.fixture(scope="module")
def plugins() -> Plugins:
    return get_plugin_manager(extra=[_Demo()])


def record(type_: str, kernel_type: int, **metadata: str) -> ProgramRecord:
    return ProgramRecord(1, "f", type_, kernel_type, {}, "/p", "/m", metadata=metadata)


TCX = record("tcx", PROG_TYPE.SCHED_CLS)
TC = record("tc", PROG_TYPE.SCHED_CLS)
KPROBE = record("kprobe", PROG_TYPE.KPROBE)
UPROBE = record("uprobe", PROG_TYPE.KPROBE)
DEMO = record("my_demo", PROG_TYPE.TRACEPOINT)


@pytest.mark.parametrize(
    ("name", "prefer", "kept", "kernel"),
    [
        ("tcx", "kernel", [TCX], PROG_TYPE.SCHED_CLS),  # bpfman's name only
        ("tc", "kernel", [TCX, TC], PROG_TYPE.SCHED_CLS),  # both: the kernel's reading
        ("tc", "bpfman", [TC], PROG_TYPE.SCHED_CLS),  # both: bpfman's reading
        ("kprobe", "kernel", [KPROBE], PROG_TYPE.KPROBE),
        ("probe", "bpfman", [KPROBE, UPROBE], PROG_TYPE.KPROBE),  # the kernel's name only
        ("Tp-Btf", "kernel", [], PROG_TYPE.TRACING),
        ("my_demo", "kernel", [DEMO], PROG_TYPE.TRACEPOINT),  # a third-party type
        ("my-demo", "bpfman", [DEMO], PROG_TYPE.TRACEPOINT),
    ],
)
def test_type_names_of_both_kinds(
    plugins: Plugins, name: str, prefer: str, kept: list[ProgramRecord], kernel: int
) -> None:
    chosen = type_filter(name, lambda: plugins, "kernel" if prefer == "kernel" else "bpfman")
    assert [r for r in (TCX, TC, KPROBE, UPROBE, DEMO) if chosen.keeps(r)] == kept
    assert chosen.keeps_kernel(kernel) and not chosen.keeps_kernel(PROG_TYPE.XDP)


def test_a_kernel_name_needs_no_plugin() -> None:
    def no_plugins() -> Plugins:
        raise AssertionError("plugins asked for a kernel name")

    assert type_filter("probe", no_plugins, "kernel").keeps(UPROBE)


def test_unknown_names_list_both_sets(plugins: Plugins) -> None:
    with pytest.raises(InvalidInputError) as refused:
        type_filter("kretprobe", lambda: plugins, "kernel")
    message = str(refused.value)
    assert "unknown program type 'kretprobe'" in message
    assert "my_demo" in message and "(bpfman's)" in message and "probe" in message
    assert "sched-act" in message.split("(bpfman's)")[1]
    # A kernel name bpfman spells the same way is listed once, as bpfman's.
    assert type_names_text(["xdp", "tc"]).count("xdp") == 1
    with pytest.raises(InvalidInputError, match="invalid program type 7"):
        type_filter(7, lambda: plugins, "kernel")  # type: ignore[arg-type]


def test_link_kinds(plugins: Plugins) -> None:
    assert link_kinds(None, lambda: plugins) == set()
    assert link_kinds("tcx,my-demo", lambda: plugins) == {"tcx", "my_demo"}
    assert link_kinds(["xdp", "tc"], lambda: plugins) == {"xdp", "tc"}
    with pytest.raises(InvalidInputError, match="unknown link kind 'probe'"):
        link_kinds(["probe"], lambda: plugins)


@pytest.mark.parametrize(
    ("text", "requirements"),
    [
        ("a=b", [("a", "=", "b")]),
        ("a==b, c != d", [("a", "=", "b"), ("c", "!=", "d")]),
        ("a=b=c", [("a", "=", "b=c")]),
        ("a=", [("a", "=", "")]),
        ("env,!gone", [("env", "exists", ""), ("gone", "!exists", "")]),
    ],
)
def test_selector_syntax(text: str, requirements: list[tuple[str, str, str]]) -> None:
    assert Selector.parse(text).requirements == tuple(Requirement(*r) for r in requirements)  # type: ignore[arg-type]


@pytest.mark.parametrize("text", ["", "=x", "!=x", "a,", "!", "a!b=c"])
def test_selector_refuses(text: str) -> None:
    with pytest.raises(InvalidInputError, match="invalid selector"):
        Selector.parse(text)


def test_selector_matching() -> None:
    meta = {"owner": "acme", "env": "prod"}
    assert Selector.parse("owner=acme,env!=dev").matches(meta)
    assert Selector.parse("team!=blue").matches(meta)  # a missing key is not equal
    assert not Selector.parse("env!=prod").matches(meta)
    assert not Selector.parse("!env").matches(meta) and Selector.parse("!team").matches(meta)
    assert Selector.of({"owner": "acme"}).matches(meta) and Selector.of(None).matches({})
    assert not Selector() and Selector.of({"a": "b"}) & Selector.parse("c")
    # The application matches under either of its keys, whichever the record holds.
    for stored in ("bpfman.io/application", "bpfman_application"):
        for asked in ("bpfman.io/application", "bpfman_application"):
            assert Selector.parse(f"{asked}=app").matches({stored: "app"})
            assert not Selector.parse(f"!{asked}").matches({stored: "app"})
