"""Shared fixtures: an isolated bpfman root per test, and the run rules.

Rules enforced here:
- ``vm``-marked tests run only inside a QEMU guest (BPFMAN_IN_VM=1), and
  the guests run only those; the host reaches them through test_vm_lane.
- ``@pytest.mark.min_kernel("6.6")`` says a vm test needs at least that
  kernel. A guest whose kernel is older deselects it (it is not skipped) and
  lists it in its report, and the host fails unless another guest of the
  kernel matrix ran it (tests/vm/runner.py).
- As root, nothing may skip: a skipped test fails the session, since every
  privileged test must run on these machines and in CI.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from bpfman.core.bpffs import is_bpffs
from bpfman.core.manager import Bpfman

REPO = Path(__file__).resolve().parent.parent
IN_VM = os.environ.get("BPFMAN_IN_VM") == "1"
# Where a guest leaves its report for the host (set by tests/vm/guest.sh).
VM_OUT = os.environ.get("BPFMAN_VM_OUT")
BPFMAN = [sys.executable, "-m", "bpfman"]


def kernel_version(release: str) -> tuple[int, int]:
    """(major, minor) of a kernel release such as ``6.12.95+deb12-amd64`` or ``6.6``."""
    found = re.match(r"(\d+)\.(\d+)", release)
    if found is None:
        raise ValueError(f"not a kernel release: {release!r}")
    return int(found[1]), int(found[2])


def _min_kernel(item: pytest.Item) -> tuple[int, int] | None:
    marker = item.get_closest_marker("min_kernel")
    if marker is None:
        return None
    if item.get_closest_marker("vm") is None:
        raise pytest.UsageError(f"{item.nodeid}: min_kernel marks vm tests only")
    return kernel_version(str(marker.args[0]))


_too_old: list[str] = []
_passed: set[str] = set()
_failed: set[str] = set()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    running = kernel_version(os.uname().release)
    keep, drop = [], []
    for item in items:
        is_vm = item.get_closest_marker("vm") is not None
        need = _min_kernel(item)
        if is_vm != IN_VM:
            drop.append(item)
        elif need is not None and running < need:
            _too_old.append(item.nodeid)
            drop.append(item)
        else:
            keep.append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


_skipped: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and os.geteuid() == 0:
        _skipped.append(report.nodeid)
    if report.failed:
        _failed.add(report.nodeid)
    elif report.when == "call" and report.passed:
        _passed.add(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if VM_OUT:
        report = {
            "release": os.uname().release,
            "passed": sorted(_passed - _failed - set(_skipped)),
            "deselected": sorted(_too_old),
        }
        Path(VM_OUT, "kernel-report.json").write_text(json.dumps(report, indent=1))
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
