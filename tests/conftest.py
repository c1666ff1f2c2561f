"""Shared fixtures: an isolated bpfman root per test, and the run rules.

Rules enforced here:
- ``vm``-marked tests run only inside the QEMU guest (BPFMAN_IN_VM=1), and
  the guest runs only those; the host reaches them through test_vm_lane.
- As root, nothing may skip: a skipped test fails the session, since every
  privileged test must run on these machines and in CI.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bpfman.core.bpffs import is_bpffs
from bpfman.core.manager import Bpfman

REPO = Path(__file__).resolve().parent.parent
IN_VM = os.environ.get("BPFMAN_IN_VM") == "1"
BPFMAN = [sys.executable, "-m", "bpfman"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    keep, drop = [], []
    for item in items:
        is_vm = item.get_closest_marker("vm") is not None
        (keep if is_vm == IN_VM else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


_skipped: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and os.geteuid() == 0:
        _skipped.append(report.nodeid)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The fault-injection figure, when the crash suite ran."""
    crash = sys.modules.get("tests.test_crash")
    if crash is not None and crash.TOTALS["kills"]:
        totals = crash.TOTALS
        terminalreporter.write_line(
            f"fault injection: {totals['kills']} kills, {totals['inconsistent']} inconsistencies"
        )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if _skipped and os.geteuid() == 0:
        print(f"\nERROR: {len(_skipped)} test(s) skipped while running as root:", file=sys.stderr)
        for nodeid in _skipped:
            print(f"  {nodeid}", file=sys.stderr)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def require_root() -> None:
    """Skip (with the reason) where root is missing; never skips as root."""
    if os.geteuid() != 0:
        pytest.skip("needs root: loads BPF programs and creates network namespaces")


class Root:
    """An isolated bpfman root and a way to drive the real CLI against it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.env = {**os.environ, "BPFMAN_ROOT": str(path)}

    def run(
        self, *args: str | int | os.PathLike[str], check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [*BPFMAN, *map(str, args)], env=self.env, capture_output=True, text=True, cwd=REPO
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"bpfman {' '.join(map(str, args))} failed ({proc.returncode}):\n"
                f"{proc.stdout}\n{proc.stderr}"
            )
        return proc

    def json(self, *args: str | int | os.PathLike[str]) -> object:
        import json

        return json.loads(self.run(*args, "-o", "json").stdout)

    def fail(self, *args: str | int | os.PathLike[str]) -> str:
        """Run a command that must fail cleanly; return its one stderr line."""
        proc = self.run(*args, check=False)
        assert proc.returncode != 0, f"expected failure, got:\n{proc.stdout}"
        assert "Traceback" not in proc.stderr, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1, f"expected one stderr line, got:\n{proc.stderr}"
        return lines[0]

    def manager(self) -> Bpfman:
        return Bpfman(self.path)

    def cleanup(self) -> None:
        """Unload whatever the test left, then drop the bpffs and the files."""
        if (self.path / "db" / "data.mdb").exists():
            mgr = self.manager()
            try:
                for row in mgr.list_programs():
                    with contextlib.suppress(Exception):  # keep cleaning the rest
                        mgr.unload(row.id)
            finally:
                mgr.close()
        fs = self.path / "fs"
        if is_bpffs(fs):
            subprocess.run(["umount", "-l", str(fs)], check=False)
        shutil.rmtree(self.path, ignore_errors=True)


@pytest.fixture
def root() -> Iterator[Root]:
    require_root()
    r = Root(Path(tempfile.mkdtemp(prefix="bpfman-test-")))
    try:
        yield r
    finally:
        r.cleanup()


@pytest.fixture(scope="session")
def objects() -> Path:
    """The compiled test programs (``make -C bpf``), built once per session."""
    from tests.helpers.build import bpf_objects

    return bpf_objects()


@pytest.fixture
def foreign(objects: Path) -> Iterator[int]:
    """A program bpftool loaded (not bpfman), pinned on a private bpffs."""
    from tests.helpers import run
    from tests.helpers.bpftool import bpftool

    fs = Path(tempfile.mkdtemp(prefix="bpft-foreign-"))
    try:
        run(["mount", "-t", "bpf", "bpf", str(fs)])
        try:
            run(["bpftool", "prog", "load", str(objects / "tracepoint_counter.bpf.o"), f"{fs}/p"])
            yield int(bpftool("prog", "show", "pinned", f"{fs}/p")["id"])
        finally:
            run(["umount", str(fs)])
    finally:
        fs.rmdir()
