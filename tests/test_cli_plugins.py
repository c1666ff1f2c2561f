"""Plugin discovery: a program type installed later appears in the CLI, no edit needed.

The demo plugin (tests/plugins/bpfman_demo_plugin) is pip-installed into the test
venv for the duration of one test and always uninstalled afterwards.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bpfman.core.plugins import PluginError, get_plugin_manager
from bpfman.kernel import PROG_TYPE
from bpfman.plugin import ProgramType, hookimpl
from bpfman.plugins.tracepoint.handler import Tracepoint
from tests.conftest import Root
from tests.helpers.bpftool import map_values, prog_ids

PLUGIN_DIR = Path(__file__).resolve().parent / "plugins" / "bpfman_demo_plugin"
DIST = "bpfman-demo-plugin"
TRACEPOINT = "syscalls/sys_enter_getppid"


def eventually(check: Callable[[], bool], timeout: float = 5.0) -> bool:
    """The kernel frees unpinned links and programs asynchronously: poll briefly."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def pip(*args: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *args],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.fixture
def demo_plugin(tmp_path: Path) -> Iterator[None]:
    # Build from a copy, so no build/ or egg-info lands in the source tree.
    source = tmp_path / "src"
    shutil.copytree(PLUGIN_DIR, source)
    pip("install", "--no-deps", "--no-build-isolation", str(source))
    try:
        yield
    finally:
        pip("uninstall", "-y", DIST)


def attach_commands(root: Root) -> list[str]:
    text = root.run("attach", "--help").stdout
    section = text.split("Commands:")[1].split("Options:")[0]
    return [line.split()[0] for line in section.strip().splitlines()]


def test_installed_plugin_adds_a_type_and_an_attach_subcommand(
    root: Root, objects: Path, demo_plugin: None
) -> None:
    assert "demo" in attach_commands(root)
    assert "-t, --tracepoint" in root.run("attach", "1", "demo", "--help").stdout

    loaded: Any = root.json(
        "load",
        "file",
        "-p",
        objects / "tracepoint_counter.bpf.o",
        "--programs",
        "demo:tracepoint_counter",
        "-g",
        f"target_pid={os.getpid().to_bytes(4, 'little').hex()}",
    )
    prog = loaded[0]["id"]
    assert loaded[0]["bpfman"]["type"] == "demo"
    rows: Any = root.json("list", "programs")
    assert [(r["id"], r["type"]) for r in rows] == [(prog, "demo")]
    # The kernel type is a tracepoint, so the kernel-type filter finds it.
    rows = root.json("list", "programs", "-p", "tracepoint")
    assert [r["id"] for r in rows] == [prog]

    text = root.run("attach", prog, "demo", "-t", TRACEPOINT).stdout
    assert f" Demo Tracepoint:  {TRACEPOINT}" in text
    assert " Program Type:     demo" in text
    links: Any = root.json("list", "links")
    assert [(link["type"], link["attachment"]) for link in links] == [
        ("demo", f"demo:{TRACEPOINT}")
    ]
    message = root.fail("attach", prog, "tracepoint", "-t", TRACEPOINT)
    assert "demo" in message

    for _ in range(10):
        os.getppid()
    assert map_values(str(root.path / "fs" / "maps" / str(prog) / "counts")) == {0: 10}
    root.run("unload", prog)
    assert eventually(lambda: prog not in prog_ids())


def test_uninstalled_plugin_is_gone_and_its_records_still_show(
    root: Root, objects: Path, tmp_path: Path
) -> None:
    source = tmp_path / "src"
    shutil.copytree(PLUGIN_DIR, source)
    pip("install", "--no-deps", "--no-build-isolation", str(source))
    link: Any = None
    try:
        loaded: Any = root.json(
            "load",
            "file",
            "-p",
            objects / "tracepoint_counter.bpf.o",
            "--programs",
            "demo:tracepoint_counter",
        )
        prog = loaded[0]["id"]
        root.run("attach", prog, "demo", "-t", TRACEPOINT)
        link = root.json("list", "links")
    finally:
        pip("uninstall", "-y", DIST)

    assert "demo" not in attach_commands(root)
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


class _DuplicateTracepoint:
    """A throwaway plugin that claims a type name another plugin already has."""

    @hookimpl
    def bpfman_program_types(self) -> list[ProgramType]:
        return [ProgramType("tracepoint", PROG_TYPE.TRACEPOINT, handler=Tracepoint())]


def test_duplicate_type_name_is_refused() -> None:
    with pytest.raises(PluginError, match="tracepoint"):
        get_plugin_manager(extra=[_DuplicateTracepoint()]).program_type("tracepoint")
    # Without the clash the same manager builds fine.
    assert "tracepoint" in get_plugin_manager().types
