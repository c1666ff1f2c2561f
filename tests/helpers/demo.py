"""The demo plugin (tests/plugins/bpfman_demo_plugin): in this process, or pip-installed.

It is the plugin guide's example; the tests reach its type through each face:
the CLI (installed, so a new ``bpfman`` process discovers it), the library
and gRPC (registered in this process).
"""

from __future__ import annotations

import contextlib
import importlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

PLUGIN_DIR = Path(__file__).resolve().parents[1] / "plugins" / "bpfman_demo_plugin"
# Plugins broken each its own way, for `bpfman system plugins` to list.
BROKEN_DIR = PLUGIN_DIR.parent / "bpfman_broken_plugin"


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
def installed(workdir: Path, env: dict[str, str], plugin: Path = PLUGIN_DIR) -> Iterator[None]:
    """The plugin (or another of tests/plugins), pip-installed for the block into a
    directory of its own that ``env`` (a process environment) puts on PYTHONPATH, so
    processes started with ``env`` discover it; taken off when the block ends (as an
    uninstall). Never into the venv: the VM lane's guests share it, and run while the
    host tests do."""
    # Built from a copy, so no build/ or egg-info lands in the source tree.
    source = workdir / plugin.name
    shutil.copytree(plugin, source)
    site = workdir / f"{plugin.name}-site"
    _pip("install", "--no-deps", "--no-build-isolation", "--target", str(site), str(source))
    before = env.get("PYTHONPATH")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), before]))
    try:
        yield
    finally:
        if before is None:
            env.pop("PYTHONPATH", None)
        else:
            env["PYTHONPATH"] = before
