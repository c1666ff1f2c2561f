"""Every built-in type's attach options (bpfman/plugins/*/options.py), errors word for word.

The CLI, the library and the service all build these objects, so each
message here is what a user sees, whichever way the value came in.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bpfman.core.contract import AttachParams
from bpfman.core.plugins import get_plugin_manager
from bpfman.errors import UnsupportedError
from bpfman.plugins.fentry.options import FentryParams, FexitParams
from bpfman.plugins.kprobe.options import KprobeParams
from bpfman.plugins.tc.options import TcParams
from bpfman.plugins.tcx.options import TcxParams
from bpfman.plugins.tracepoint.options import TracepointParams, split
from bpfman.plugins.uprobe.options import UprobeParams
from bpfman.plugins.xdp.options import XdpParams
from tests.helpers.raises import refused

NETNS = "/var/run/netns/blue"
REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("params", "raw", "built"),
    [
        (FentryParams, {}, FentryParams()),
        (FexitParams, {}, FexitParams()),
        (KprobeParams, {"fn_name": "do_unlinkat"}, KprobeParams("do_unlinkat", 0, None)),
        (
            KprobeParams,
            {"fn_name": "do_unlinkat", "offset": 2**64 - 1},
            KprobeParams("do_unlinkat", 2**64 - 1),
        ),
        (TracepointParams, {"tracepoint": "syscalls/sys_enter_kill"}, None),
        (
            UprobeParams,
            {"target": "libc", "fn_name": "malloc", "pid": 7},
            UprobeParams("libc", "malloc", 0, 7, None),
        ),
        (UprobeParams, {"target": "/bin/true", "offset": 16}, UprobeParams("/bin/true", None, 16)),
        (
            TcxParams,
            {"direction": "egress", "iface": "eth0", "priority": 5, "netns": NETNS},
            TcxParams("egress", "eth0", 5, NETNS),
        ),
        (
            TcParams,
            {"direction": "ingress", "iface": "eth0", "priority": 1000, "proceed_on": ["ok"]},
            TcParams("ingress", "eth0", 1000, ("ok",)),
        ),
        (
            XdpParams,
            {"iface": "eth0", "priority": 1, "proceed_on": ["pass", "drop"], "netns": NETNS},
            XdpParams("eth0", 1, ("pass", "drop"), NETNS),
        ),
    ],
)
def test_valid_options_build(
    params: type[AttachParams], raw: dict[str, Any], built: AttachParams | None
) -> None:
    assert params.from_mapping(raw) == (built or params(**raw))


@pytest.mark.parametrize(
    ("params", "raw", "message"),
    [
        (FentryParams, {"fn_name": "x"}, "fentry: unknown option 'fn_name' (options: none)"),
        (FexitParams, {"target": "x"}, "fexit: unknown option 'target' (options: none)"),
        (KprobeParams, {}, "kprobe: missing option 'fn_name'"),
        (KprobeParams, {"fn_name": "f", "offset": -1}, "kprobe: offset -1 is out of range"),
        (KprobeParams, {"fn_name": "f\0"}, "kprobe: function name contains a NUL byte"),
        (
            KprobeParams,
            {"fn_name": "f", "retprobe": True},
            "kprobe: unknown option 'retprobe' (options: fn_name, offset, container_pid)",
        ),
        (TracepointParams, {"tracepoint": 5}, "tracepoint: tracepoint must be a string, got 5"),
        (
            TracepointParams,
            {"tracepoint": "nonsense"},
            "invalid tracepoint 'nonsense': expected CATEGORY/NAME, e.g. syscalls/sys_enter_openat",
        ),
        (UprobeParams, {"target": ""}, "uprobe: the target is empty"),
        (UprobeParams, {"target": "libc", "pid": 0}, "uprobe: invalid pid 0: must be positive"),
        (
            UprobeParams,
            {"target": "libc", "container_pid": -3},
            "uprobe: invalid container pid -3: must be positive",
        ),
        (UprobeParams, {"target": "libc", "offset": 2**64}, "uprobe: offset 18446744073709551616"),
        (
            UprobeParams,
            {"target": "libc", "fn_name": "a\0"},
            "uprobe: function name contains a NUL",
        ),
        (UprobeParams, {"target": "libc", "path": "/x"}, "uprobe: unknown option 'path'"),
        (
            UprobeParams,
            {"target": "libc", "file_offset": 1},
            "uprobe: unknown option 'file_offset'",
        ),
        (
            TcxParams,
            {"direction": "up", "iface": "eth0", "priority": 5},
            "tcx: invalid direction 'up' (possible values: ingress, egress)",
        ),
        (
            TcxParams,
            {"direction": "ingress", "iface": "eth0", "priority": 0},
            "tcx: priority 0 is out of range 1-1000",
        ),
        (
            TcxParams,
            {"direction": "ingress", "iface": "eth0/1", "priority": 5},
            "tcx: invalid interface name 'eth0/1'",
        ),
        (
            TcxParams,
            {"direction": "ingress", "iface": "eth0", "priority": 5, "netns": ""},
            "tcx: netns is empty",
        ),
        (
            TcxParams,
            {"direction": "ingress", "iface": "eth0", "priority": "5"},
            "tcx: priority must be an integer, got '5'",
        ),
        (
            TcParams,
            {"direction": "ingress", "iface": "eth0", "priority": 5, "proceed_on": ["pass"]},
            "tc: invalid proceed-on value 'pass' (possible values: unspec, ok, reclassify, shot, "
            "pipe, stolen, queued, repeat, redirect, trap, dispatcher_return)",
        ),
        (
            TcParams,
            {"direction": "egress", "iface": "x" * 16, "priority": 5},
            f"tc: invalid interface name {'x' * 16!r}",
        ),
        (TcParams, {"iface": "eth0", "priority": 5}, "tc: missing option 'direction'"),
        (
            XdpParams,
            {"iface": "eth0", "priority": 5, "proceed_on": ["ok"]},
            "xdp: invalid proceed-on value 'ok' (possible values: aborted, drop, pass, tx, "
            "redirect, dispatcher_return)",
        ),
        (XdpParams, {"iface": "eth0", "priority": 1001}, "xdp: priority 1001 is out of range"),
        (XdpParams, {"iface": "", "priority": 5}, "xdp: invalid interface name ''"),
        (
            XdpParams,
            {"iface": "eth0", "priority": 5, "proceed_on": "pass"},
            "xdp: proceed_on must be a list of strings, got 'pass'",
        ),
    ],
)
def test_invalid_options_are_refused(
    params: type[AttachParams], raw: dict[str, Any], message: str
) -> None:
    with refused(message):
        params.from_mapping(raw)


def test_kprobe_in_a_container_is_unsupported() -> None:
    with refused(
        "kprobe: --container-pid is not supported; kprobes are system-wide", UnsupportedError
    ):
        KprobeParams.from_mapping({"fn_name": "do_unlinkat", "container_pid": 1})


def test_proceed_on_is_checked_but_kept_as_given() -> None:
    """Names are validated (case, commas) but recorded as the caller wrote them
    (a type checker takes only the names themselves)."""
    params = XdpParams("eth0", 5, ("PASS,drop",))  # type: ignore[arg-type]
    assert params.proceed_on == ("PASS,drop",)


def test_uprobe_resolved_fields_default_and_are_recorded() -> None:
    params = UprobeParams("libc", "malloc")
    assert (params.path, params.file_offset) == ("", 0)
    assert params.to_record()["path"] == ""


@pytest.mark.parametrize(
    ("tracepoint", "parts"),
    [("syscalls/sys_enter_kill", ("syscalls", "sys_enter_kill")), ("a_1/B2", ("a_1", "B2"))],
)
def test_tracepoint_split(tracepoint: str, parts: tuple[str, str]) -> None:
    assert split(tracepoint) == parts


@pytest.mark.parametrize("bad", ["syscalls", "a/b/c", "/b", "a/", "a-b/c", "a/b c"])
def test_tracepoint_split_refuses(bad: str) -> None:
    with refused(f"invalid tracepoint {bad!r}: expected CATEGORY/NAME"):
        split(bad)


def test_every_type_exports_its_options_from_bpfman() -> None:
    """All 14 built-in types' options classes, documented from their declarations."""
    import bpfman

    exported = [getattr(bpfman, n) for n in bpfman.__all__ if n.endswith("Params")]
    names = sorted(cls.type_name for cls in exported if cls is not AttachParams)
    assert names == sorted(get_plugin_manager().types)
    assert "Required: Direction to apply program." in (bpfman.TcxParams.__doc__ or "")
    assert "[possible values: ingress, egress]" in (bpfman.TcxParams.__doc__ or "")


def test_a_type_checker_catches_a_misspelt_choice(tmp_path: Path) -> None:
    """Directions and proceed-on names are ``Literal`` types (issue 19: ``"ingres"``)."""
    source = tmp_path / "caller.py"
    source.write_text(
        "import bpfman\n"
        'bpfman.TcxParams("ingres", "eth0", 5)\n'
        'bpfman.XdpParams("eth0", 5, ("pas",))\n'
        'bpfman.TcParams("egress", "eth0", 5, ("ok", "pipe"))\n'
    )
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-error-summary", str(source)],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    errors = [
        line.split(": error: ")[1] for line in proc.stdout.splitlines() if ": error: " in line
    ]
    assert len(errors) == 2, proc.stdout
    assert "\"Literal['ingres']\"; expected \"Literal['ingress', 'egress']\"" in errors[0]
    assert "\"tuple[Literal['pas']]\"" in errors[1]
