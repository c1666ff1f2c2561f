"""The run rules and the shared fixtures; the helpers themselves live in tests/helpers.

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

import compileall
import json
import os
import re
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import run
from tests.helpers.bpffs import private_bpffs
from tests.helpers.bpftool import bpftool
from tests.helpers.build import bpf_objects
from tests.helpers.chains import force_direct
from tests.helpers.net import VethPair
from tests.helpers.registry import Registry, image_objects_in, running_registry
from tests.helpers.root import REPO, Root, fresh_root

IN_VM = os.environ.get("BPFMAN_IN_VM") == "1"
# Where a guest leaves its report for the host (set by tests/vm/guest.sh).
VM_OUT = os.environ.get("BPFMAN_VM_OUT")


# Directories on the checkout's path that others were allowed to search for the session.
_opened: list[tuple[Path, int]] = []


def pytest_configure(config: pytest.Config) -> None:
    """Give the processes the tests start what they need, however pytest was started.

    - Started in the background by a shell (``make test &``), pytest ignores
      SIGINT, and the commands the tests interrupt would inherit that: handled
      here, it is the default again in every process the tests start.
    - Processes started as another user (nobody, a member of the socket's group)
      run this checkout's interpreter and code. A clone in a private directory
      (``mktemp -d``, /root) cannot be searched by them: its ancestors get search
      permission for others (never read) for the session, restored when it ends.
    """
    if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if IN_VM or os.geteuid() != 0:
        return
    for directory in (REPO, *REPO.parents):
        mode = directory.stat().st_mode & 0o7777
        if not mode & 0o001:
            directory.chmod(mode | 0o001)
            _opened.append((directory, mode))


def pytest_unconfigure(config: pytest.Config) -> None:
    while _opened:
        directory, mode = _opened.pop()
        directory.chmod(mode)


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
# The files holding vm tests: all a guest needs to collect.
_vm_files: set[str] = set()
_passed: set[str] = set()
_failed: set[str] = set()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    running = kernel_version(os.uname().release)
    keep: list[pytest.Item] = []
    drop: list[pytest.Item] = []
    for item in items:
        is_vm = item.get_closest_marker("vm") is not None
        if is_vm:
            _vm_files.add(str(item.path.relative_to(config.rootpath)))
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


def pytest_collection_finish(session: pytest.Session) -> None:
    """Boot the VM lane's guests now if a selected test needs their verdict, so they
    run while the host tests do (their results are awaited by the ``vm_lanes`` fixture)."""
    if not IN_VM and any("vm_lanes" in getattr(i, "fixturenames", ()) for i in session.items):
        from tests.vm.runner import lane_timeout, matrix_in_background

        # The guests see this checkout read-only: build the test programs and compile the
        # bytecode they would otherwise compile on every start, under emulation.
        bpf_objects()
        for package in ("bpfman", "tests"):
            compileall.compile_dir(session.config.rootpath / package, quiet=1)
        matrix_in_background(lane_timeout(), sorted(_vm_files))


_skipped: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and os.geteuid() == 0:
        _skipped.append(report.nodeid)
    if report.failed:
        _failed.add(report.nodeid)
    elif report.when == "call" and report.passed:
        _passed.add(report.nodeid)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The fault-injection figure, when the crash suite ran."""
    crash = sys.modules.get("tests.test_crash")
    if crash is not None and crash.TOTALS["kills"]:
        totals = crash.TOTALS
        terminalreporter.write_line(
            f"fault injection: {totals['kills']} kills, {totals['inconsistent']} inconsistencies"
        )


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


@pytest.fixture
def root() -> Iterator[Root]:
    """An isolated bpfman root (its own state and bpffs), emptied after the test."""
    with fresh_root() as r:
        yield r


@pytest.fixture
def direct(root: Root) -> Root:
    """``root`` on the direct xdp/tc path (one program per hook), freplace or not."""
    return force_direct(root)


@pytest.fixture(scope="session")
def objects() -> Path:
    """The compiled test programs (``make -C bpf``), built once per session."""
    return bpf_objects()


@pytest.fixture
def foreign(objects: Path) -> Iterator[int]:
    """A program bpftool loaded (not bpfman), pinned on a private bpffs."""
    with private_bpffs("bpft-foreign-") as fs:
        run(["bpftool", "prog", "load", str(objects / "tracepoint_counter.bpf.o"), f"{fs}/p"])
        yield int(bpftool("prog", "show", "pinned", f"{fs}/p")["id"])


@pytest.fixture
def bpffs() -> Iterator[Path]:
    """A private bpffs mount; unmounting it drops every pin made under it."""
    with private_bpffs() as fs:
        yield fs


@pytest.fixture
def pair() -> Iterator[VethPair]:
    """Two throwaway network namespaces joined by a veth pair."""
    with VethPair() as veth:
        yield veth


@pytest.fixture(scope="session")
def image_objects(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Small objects for images: ``xdp`` and ``tp`` (little-endian), ``be`` (big-endian)."""
    return image_objects_in(tmp_path_factory.mktemp("image-objs"))


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    """A docker-registry on loopback with basic auth, one per test module."""
    with running_registry(tmp_path_factory.mktemp("registry")) as reg:
        yield reg
