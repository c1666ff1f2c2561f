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

import bpfman
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


def test_system_plugins_lists_every_plugin_and_why_one_is_broken(
    root: Root, tmp_path: Path
) -> None:
    """Type, package, version and entry point of each, as `datasette plugins` shows its own;
    a broken plugin is listed with its error and the status stays 0 unless --check."""
    built_in: Any = root.json("system", "plugins")
    assert {"tracepoint", "xdp", "tc", "fentry", "fexit", "cgroup"} <= {p["type"] for p in built_in}
    for plugin in built_in:
        assert (plugin["package"], plugin["version"], plugin["error"]) == (
            "bpfman",
            bpfman.__version__,
            None,
        )
        assert plugin["entry_point"].startswith("bpfman.plugins.")
        assert plugin["type"] in plugin["types"]
    assert "Error" not in root.run("system", "plugins").stdout.splitlines()[0]
    assert root.run("system", "plugins", "--check").returncode == 0

    with demo.installed(tmp_path, root.env), demo.installed(tmp_path, root.env, demo.BROKEN_DIR):
        proc = root.run("system", "plugins")  # status 0: listing is not checking
        found: Any = root.json("system", "plugins")
        message = root.fail("system", "plugins", "--check")
        status = root.run("system", "plugins", "--check", check=False).returncode
    rows = {(p["type"], p["entry_point"]): p for p in found}
    assert len(rows) == len(found) == len(built_in) + 5
    assert rows["demo", "bpfman_demo_plugin"] == {
        "type": "demo",
        "package": "bpfman-demo-plugin",
        "version": "0.1.0",
        "entry_point": "bpfman_demo_plugin",
        "types": ["demo"],
        "error": None,
    }
    errors = {key: row["error"] for key, row in rows.items() if row["error"]}
    broken = "bpfman_broken_plugin"
    assert errors == {
        ("unimportable", f"{broken}.unimportable"): (
            f"cannot load plugin unimportable ({broken}.unimportable): "
            "No module named 'bpfman_no_such_dependency'"
        ),
        ("nameless", f"{broken}.nameless"): (
            "the plugin registered as 'nameless' declares no type 'nameless'"
        ),
        # A type two plugins declare: commands loading every type refuse both.
        ("clash", f"{broken}.clash"): "type 'xdp' is declared by bpfman.plugins.xdp.handler too",
        ("xdp", "bpfman.plugins.xdp.handler"): f"type 'xdp' is declared by {broken}.clash too",
        # An entry point name two distributions register: discovery refuses both.
        ("tracepoint", "bpfman.plugins.tracepoint.handler"): (
            f"plugin name 'tracepoint' is registered by {broken}.nameless too"
        ),
        ("tracepoint", f"{broken}.nameless"): (
            "plugin name 'tracepoint' is registered by bpfman.plugins.tracepoint.handler too"
        ),
    }
    assert rows["clash", f"{broken}.clash"]["types"] == ["clash", "xdp"]
    assert rows["unimportable", f"{broken}.unimportable"]["package"] == "bpfman-broken-plugin"
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["Type", "Package", "Version", "Entry", "Point", "Error"]
    assert any(line.split()[:4] == ["demo", "bpfman-demo-plugin", "0.1.0", "bpfman_demo_plugin"]
               for line in lines)  # fmt: skip
    assert message == f"Error: 6 of {len(found)} plugins are broken" and status == 1
    # Uninstalled, they are gone from the list.
    assert root.json("system", "plugins") == built_in
