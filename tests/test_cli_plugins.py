"""Plugin discovery: a program type installed later appears in the CLI, no edit needed.

The demo plugin (tests/plugins/bpfman_demo_plugin, the plugin guide's example) is
pip-installed into a directory of its own that the test's commands find on
PYTHONPATH, for the duration of one test (never into the venv, which the VM
lane's guests share). Its ``attach`` subcommand is built from its declaration.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import demo
from tests.helpers.bpftool import map_values, prog_ids
from tests.helpers.root import Root, le32
from tests.helpers.wait import eventually

TRACEPOINT = "syscalls/sys_enter_getppid"


@pytest.fixture
def demo_plugin(root: Root, tmp_path: Path) -> Iterator[None]:
    with demo.installed(tmp_path, root.env):
        yield


def attach_commands(root: Root) -> list[str]:
    text = root.run("attach", "--help").stdout
    section = text.split("Commands:")[1].split("Options:")[0]
    return [line.split()[0] for line in section.strip().splitlines()]


def test_installed_plugin_adds_a_type_and_an_attach_subcommand(
    root: Root, objects: Path, demo_plugin: None
) -> None:
    assert "demo" in attach_commands(root)
    # The subcommand, its flags and help come from the one declaration (no click in the plugin).
    assert root.run("attach", "1", "demo", "--help").stdout.startswith(
        "Usage: bpfman attach <PROGRAM_ID> demo [OPTIONS] --tracepoint <TRACEPOINT>\n\n"
        "Install a demo eBPF program on a Tracepoint.\n\n"
        "Options:\n"
        "  -t, --tracepoint <TRACEPOINT>\n"
        "          Required: The tracepoint to attach to, as CATEGORY/NAME.\n"
        "          Example: --tracepoint syscalls/sys_enter_getppid\n"
    )
    # Every installed type is offered at load, the demo's too (from discovery, cached).
    assert ", demo, " in root.run("load", "file", "--help").stdout

    loaded = root.load(
        objects / "tracepoint_counter.bpf.o",
        "--programs",
        "demo:tracepoint_counter",
        "-g",
        f"target_pid={le32(os.getpid())}",
    )
    prog = loaded[0]["id"]
    assert loaded[0]["bpfman"]["type"] == "demo"
    rows: Any = root.json("list", "programs")
    assert [(r["id"], r["type"]) for r in rows] == [(prog, "demo")]
    # The kernel type is a tracepoint, so the kernel-type filter finds it; its own
    # name does too, and --help lists it among the accepted values.
    rows = root.json("list", "programs", "-p", "tracepoint")
    assert [r["id"] for r in rows] == [prog]
    assert [r["id"] for r in root.json("list", "programs", "-p", "demo")] == [prog]
    assert "demo" in root.run("list", "programs", "--help").stdout.split("(bpfman's)")[0]

    text = root.run("attach", prog, "demo", "-t", TRACEPOINT).stdout
    assert f" Demo Tracepoint:  {TRACEPOINT}" in text
    assert " Program Type:     demo" in text
    links: Any = root.json("list", "links")
    assert [(link["type"], link["attachment"]) for link in links] == [
        ("demo", f"demo:{TRACEPOINT}")
    ]
    assert root.json("list", "links", "--kind", "demo") == links
    assert root.json("list", "links", "--kind", "tracepoint") == []
    message = root.fail("attach", prog, "tracepoint", "-t", TRACEPOINT)
    assert "demo" in message

    for _ in range(10):
        os.getppid()
    assert map_values(str(root.maps(prog) / "counts")) == {0: 10}
    root.run("unload", prog)
    assert eventually(lambda: prog not in prog_ids())


def test_uninstalled_plugin_is_gone_and_its_records_still_show(
    root: Root, objects: Path, tmp_path: Path
) -> None:
    with demo.installed(tmp_path, root.env):
        prog = root.load_id(
            objects / "tracepoint_counter.bpf.o", "--programs", "demo:tracepoint_counter"
        )
        root.run("attach", prog, "demo", "-t", TRACEPOINT)
        link = root.json("list", "links")

    assert "demo" not in attach_commands(root)
    assert ", demo," not in root.run("load", "file", "--help").stdout
    message = root.fail(
        "load",
        "file",
        "-p",
        objects / "tracepoint_counter.bpf.o",
        "--programs",
        "demo:tracepoint_counter",
    )
    assert "demo" in message
    # The record whose plugin is gone is shown raw, never a crash, and still unloads.
    rows: Any = root.json("list", "links")
    assert [row["id"] for row in rows] == [link[0]["id"]]
    assert TRACEPOINT in root.run("get", "link", link[0]["id"]).stdout
    assert str(prog) in root.run("list", "programs").stdout
    root.run("unload", prog)
    assert eventually(lambda: prog not in prog_ids())
    assert root.json("list", "programs") == []
