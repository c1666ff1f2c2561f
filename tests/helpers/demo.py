"""The demo plugin (tests/plugins/bpfman_demo_plugin): in this process, or pip-installed.

It is the plugin guide's example; the tests reach its type through each face:
the CLI (installed, so a new ``bpfman`` process discovers it), the library
and gRPC (registered in this process).
"""

from __future__ import annotations

import contextlib
import importlib
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

PLUGIN_DIR = Path(__file__).resolve().parents[1] / "plugins" / "bpfman_demo_plugin"
DIST = "bpfman-demo-plugin"
# Plugins broken each its own way, for `bpfman system plugins` to list.
BROKEN_DIR = PLUGIN_DIR.parent / "bpfman_broken_plugin"
BROKEN_DIST = "bpfman-broken-plugin"


def module() -> ModuleType:
    """The plugin's module, imported from its source (to register with ``extra=``)."""
    if str(PLUGIN_DIR) not in sys.path:
        sys.path.insert(0, str(PLUGIN_DIR))
    return importlib.import_module("bpfman_demo_plugin")


def _pip(*args: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *args],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@contextlib.contextmanager
def installed(workdir: Path, plugin: Path = PLUGIN_DIR, dist: str = DIST) -> Iterator[None]:
    """The plugin (or another of tests/plugins), pip-installed for the block and always
    uninstalled after it."""
    # Build from a copy, so no build/ or egg-info lands in the source tree.
    source = workdir / plugin.name
    shutil.copytree(plugin, source)
    _pip("install", "--no-deps", "--no-build-isolation", str(source))
    try:
        yield
    finally:
        _pip("uninstall", "-y", dist)
