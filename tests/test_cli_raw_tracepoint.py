"""raw_tracepoint and tp_btf programs through the real CLI: exact counts.

Both count getppid() calls of this process on the ``sys_enter`` tracepoint, one
through its raw name (``attach ID raw_tracepoint -t sys_enter``), the other
through the BTF tracepoint chosen at load (``tp_btf``). Linux 6.18 loads and
attaches tp_btf programs here, though it refuses fentry/fexit; the VM lane runs
the same checks on 6.12 (tests/test_vm_types612.py).
"""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path
from typing import Any

from tests.helpers import shown_rows, u32_hex, u64_hex
from tests.helpers.bpftool import link_infos, map_values
from tests.helpers.root import Root
from tests.helpers.wait import eventually

CALLS = 37
GETPPID = {"x86_64": 110, "aarch64": 173}[platform.machine()]


def pid_globals() -> list[str]:
    return ["-g", f"target_pid={u32_hex(os.getpid())}", f"syscall_nr={u64_hex(GETPPID)}"]


def counts(root: Root, owner: int) -> dict[int, int]:
    return map_values(str(root.path / "fs" / "maps" / str(owner) / "counts"))


def call_getppid(times: int) -> None:
    for _ in range(times):
        os.getppid()


def test_raw_tracepoint_counts_exactly_and_detach_stops(root: Root, objects: Path) -> None:
    loaded: Any = root.json(
        "load",
        "file",
        "-p",
        objects / "raw_tp_counter.bpf.o",
        "--programs",
        "raw_tracepoint:raw_tp_counter",
        *pid_globals(),
    )
    prog = loaded[0]["id"]
    assert loaded[0]["bpfman"]["type"] == "raw_tracepoint"
    out = root.run("attach", "--output", "json", prog, "raw_tracepoint", "-t", "sys_enter")
    link = json.loads(out.stdout)
    assert link["attachment"] == "sys_enter"
    assert [k["type"] for k in link_infos(prog)] == ["raw_tracepoint"]
    assert shown_rows(root.run("get", "link", link["id"]).stdout)["Tracepoint"] == "sys_enter"

    call_getppid(CALLS)
    assert counts(root, prog) == {0: CALLS}
    call_getppid(CALLS)
    assert counts(root, prog) == {0: 2 * CALLS}

    root.run("detach", link["id"])
    assert eventually(lambda: link_infos(prog) == [])
    call_getppid(CALLS)
    assert counts(root, prog) == {0: 2 * CALLS}
    assert not list((root.path / "fs" / "links").iterdir())


def test_raw_tracepoint_bad_names_are_one_line(root: Root, objects: Path) -> None:
    loaded: Any = root.json(
        "load",
        "file",
        "-p",
        objects / "raw_tp_counter.bpf.o",
        "--programs",
        "raw_tracepoint:raw_tp_counter",
    )
    prog = loaded[0]["id"]
    message = root.fail("attach", prog, "raw_tracepoint", "-t", "syscalls/sys_enter_getppid")
    assert "without its category" in message
    assert root.fail("attach", prog, "raw_tracepoint", "-t", "no_such_tracepoint_x") == (
        "Error: raw tracepoint no_such_tracepoint_x not found"
    )
    assert "take no attach function" in root.fail(
        "load",
        "file",
        "-p",
        objects / "raw_tp_counter.bpf.o",
        "--programs",
        "raw_tracepoint:raw_tp_counter:sys_enter",
    )
    assert root.json("list", "links") == []


def test_tp_btf_from_the_section_or_the_load_counts_exactly(root: Root, objects: Path) -> None:
    obj = objects / "tp_btf_counter.bpf.o"
    loaded: Any = root.json(
        "load",
        "file",
        "-p",
        obj,
        "--programs",
        "tp_btf:tp_btf_counter",
        "tp_btf:tp_btf_any:sys_enter",
        *pid_globals(),
    )
    from_section, from_load = (p["id"] for p in loaded)
    for prog in (from_section, from_load):
        assert shown_rows(root.run("get", "program", prog).stdout)["Tracepoint"] == "sys_enter"
        link = json.loads(root.run("attach", "--output", "json", prog, "tp_btf").stdout)
        assert link["attachment"] == "sys_enter"
    call_getppid(CALLS)
    assert counts(root, from_section) == {0: CALLS, 1: CALLS}

    root.run("unload", from_load)
    assert eventually(lambda: link_infos(from_load) == [])  # links are freed asynchronously
    call_getppid(CALLS)
    assert counts(root, from_section) == {0: 2 * CALLS, 1: CALLS}

    message = root.fail("load", "file", "-p", obj, "--programs", "tp_btf:tp_btf_any")
    assert message == (
        "Error: tp_btf: tp_btf_any names no tracepoint: give it as --programs "
        "tp_btf:tp_btf_any:<TRACEPOINT> or in the section (tp_btf/<tracepoint>)"
    )
    message = root.fail("load", "file", "-p", obj, "--programs", "tp_btf:tp_btf_any:no_such_tp")
    assert message == (
        "Error: tp_btf: no tracepoint no_such_tp in the kernel's BTF (btf_trace_no_such_tp)"
    )
