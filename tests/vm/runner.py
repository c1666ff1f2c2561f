"""Run the `vm`-marked tests inside QEMU guests booted by virtme-ng, one per kernel.

The host kernel refuses fentry/fexit/freplace and has no kprobes, so those tests run in
guests with full-featured kernels that see the host filesystem. The matrix has two
kernels, each booted once for the whole vm suite, side by side:

- ``6.1``: Debian 12's own kernel (package ``linux-image-amd64``, in /boot);
- ``6.12``: Debian's bookworm-backports kernel, unpacked into build/kernels/6.12 by
  scripts/fetch-kernel.sh (``make kernels``); it adds TCX, netkit and more.

A test that needs a newer kernel than 6.1 carries ``@pytest.mark.min_kernel("6.6")``;
each guest deselects (never skips) the tests its kernel is too old for and reports
them, and ``uncovered`` finds any test that then ran on no kernel at all.

Guests report back through files in a shared directory, because vng's own exit status
does not carry the guest command's status.

A test can span a reboot: in the first boot it asks for a second one
(tests/helpers/reboot.py); after that guest powers off, the lane boots a fresh guest
of the same kernel that runs only those tests again, with ``BPFMAN_VM_BOOT=2`` and the
same ``BPFMAN_VM_SHARED`` directory. The lane's verdict counts both boots.

Script use (what `make test-vm` calls): ``python -m tests.vm.runner [pytest args]``;
``BPFMAN_VM_KERNELS=6.12`` (comma-separated names) boots only those kernels.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, fields
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
GUEST_SCRIPT = Path(__file__).resolve().with_name("guest.sh")
KERNEL_CACHE = REPO_ROOT / "build" / "kernels"
# One kernel's whole vm suite: a safety net for a hung guest. Measured with both lanes
# side by side on 2 cores: about 5 min each (alone), longer beside the host suite.
DEFAULT_TIMEOUT = 1800.0
# Software emulation: KVM guests hang before the kernel prints anything on these hosts.
# One emulated CPU: with two, every guest ran about seven times slower (multi-threaded
# TCG pays for cross-CPU ordering, and two guests' four CPUs fought over two cores).
VNG_OPTIONS = ("--disable-kvm", "--force-9p", "--cpus", "1", "-m", "1G")
# What the guest's conftest writes into the shared directory (see tests/conftest.py).
REPORT_NAME = "kernel-report.json"
# Where tests keep what must survive a guest's reboot, and the nodeids asking for one
# (tests/helpers/reboot.py).
SHARED_NAME = "shared"
SECOND_BOOT = "second-boot"


# vng process groups still running, killed if the test process exits first.
_RUNNING: set[subprocess.Popen[bytes]] = set()


class VmLaneError(Exception):
    """A guest could not be started at all (no kernel, no vng)."""


@dataclass(frozen=True)
class GuestKernel:
    """One kernel of the matrix.

    :param name: the lane's name ("6.1", "6.12"), as BPFMAN_VM_KERNELS and test ids
        spell it.
    :param release: what ``uname -r`` says inside the guest.
    :param append: kernel command-line additions (``lsm=...,bpf`` where needed).
    """

    name: str
    image: Path
    release: str
    append: tuple[str, ...] = ()


@dataclass(frozen=True)
class JunitCounts:
    """Totals from the guest's junit xml."""

    tests: int
    failures: int
    errors: int
    skipped: int


@dataclass(frozen=True)
class VmResult:
    """What one guest reported; rc is None when it never wrote one (boot or run failed).

    :param seconds: wall-clock time of the boot and the run.
    :param cpu_seconds: CPU time vng and the emulator used (user + system), a figure
        that other load on the host inflates less than the wall-clock time.
    :param release: the guest's ``uname -r``, from its report.
    :param passed: node ids of the tests that passed there.
    :param deselected: node ids deselected because that kernel is too old for them.
    """

    kernel: GuestKernel
    rc: int | None
    output: str
    junit: JunitCounts | None
    timed_out: bool
    seconds: float
    cpu_seconds: float
    release: str | None = None
    passed: frozenset[str] = field(default_factory=frozenset)
    deselected: frozenset[str] = field(default_factory=frozenset)


def _version_key(path: Path) -> list[int]:
    return [int(part) for part in re.findall(r"\d+", path.name)]


def _newest(pattern: str, where: Path, hint: str) -> Path:
    found = sorted(where.glob(pattern), key=_version_key)
    if not found:
        raise VmLaneError(f"no {where}/{pattern}: {hint}")
    return found[-1]


def _debian_6_1() -> Path:
    return _newest("vmlinuz-6.1.*", Path("/boot"), "install linux-image-amd64 (make deps)")


def _backports_6_12() -> Path:
    root = KERNEL_CACHE / "6.12"
    if not (root / ".complete").is_file():
        raise VmLaneError(f"{root} is not fetched yet: run make kernels")
    return _newest("vmlinuz-6.12.*", root / "boot", "run make kernels")


# The matrix, oldest first: lane name -> where its kernel image is.
KERNELS: dict[str, Callable[[], Path]] = {"6.1": _debian_6_1, "6.12": _backports_6_12}


def lsm_append(config: Path) -> tuple[str, ...]:
    """``lsm=<default list>,bpf`` when the kernel has BPF LSM outside its default list.

    config is the kernel's build config (Debian's /boot/config-<release>); a kernel
    without CONFIG_BPF_LSM, or with ``bpf`` already listed, needs nothing.
    """
    options = dict(
        line.split("=", 1) for line in config.read_text().splitlines() if line.startswith("CONFIG_")
    )
    if options.get("CONFIG_BPF_LSM") != "y":
        return ()
    lsms = [m for m in options.get("CONFIG_LSM", "").strip('"').split(",") if m]
    if "bpf" in lsms:
        return ()
    return ("lsm=" + ",".join([*lsms, "bpf"]),)


def guest_kernel(name: str) -> GuestKernel:
    """The matrix's kernel called name, with its release and boot options."""
    if name not in KERNELS:
        raise VmLaneError(f"unknown guest kernel {name!r}: the matrix has {', '.join(KERNELS)}")
    image = KERNELS[name]()
    release = image.name.removeprefix("vmlinuz-")
    config = image.with_name(f"config-{release}")
    if not config.is_file():
        raise VmLaneError(f"{config} is missing: cannot tell the kernel's LSM list")
    return GuestKernel(name, image, release, lsm_append(config))


def selected_kernels() -> list[str]:
    """The lanes to run: BPFMAN_VM_KERNELS (comma-separated), else the whole matrix."""
    chosen = os.environ.get("BPFMAN_VM_KERNELS", "")
    names = [n.strip() for n in chosen.split(",") if n.strip()] or list(KERNELS)
    unknown = [n for n in names if n not in KERNELS]
    if unknown:
        raise VmLaneError(f"BPFMAN_VM_KERNELS names {unknown}: the matrix has {list(KERNELS)}")
    return names


def uncovered(results: list[VmResult]) -> list[str]:
    """Tests some guest deselected as too new for its kernel that passed in no guest."""
    passed = frozenset().union(*(r.passed for r in results))
    deselected = frozenset().union(*(r.deselected for r in results))
    return sorted(deselected - passed)


def _vng() -> Path:
    """vng from this interpreter's venv, else from PATH."""
    local = Path(sys.executable).with_name("vng")
    if local.is_file():
        return local
    found = shutil.which("vng")
    if found is None:
        raise VmLaneError("vng not found: install virtme-ng (pip install virtme-ng)")
    return Path(found)


def _read_junit(path: Path) -> JunitCounts | None:
    if not path.is_file():
        return None
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError:  # cut short by a timeout
        return None
    suites = [root] if root.tag == "testsuite" else root.findall("testsuite")

    def total(attr: str) -> int:
        return sum(int(s.get(attr, "0")) for s in suites)

    return JunitCounts(total("tests"), total("failures"), total("errors"), total("skipped"))


def _read_rc(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (FileNotFoundError, ValueError):
        return None


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    """Kill whatever is left of vng, virtme-run and qemu: they share vng's own session."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _read_report(path: Path) -> dict[str, object]:
    try:
        report: dict[str, object] = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return {}
    return report


def run_vm_lane(
    kernel: GuestKernel,
    pytest_args: list[str],
    timeout: float = DEFAULT_TIMEOUT,
    stream: bool = False,
) -> VmResult:
    """Boot kernel once and run ``pytest -m vm`` there with pytest_args; then, if tests
    asked for it (:mod:`tests.helpers.reboot`), boot a fresh guest and run them again.

    With stream, the guest console goes to this process's stdout as it runs; otherwise it
    is captured and added to the output when the guest reported no exit status.
    """
    with tempfile.TemporaryDirectory(prefix="bpfman-vm-") as tmp:
        rwdir = Path(tmp)
        shared = rwdir / SHARED_NAME
        shared.mkdir()
        first = _boot(kernel, rwdir, rwdir, pytest_args, 1, timeout, stream)
        wanted = (
            (shared / SECOND_BOOT).read_text().split() if (shared / SECOND_BOOT).is_file() else []
        )
        if not wanted:
            return first
        out_dir = rwdir / "boot2"
        out_dir.mkdir()
        second = _boot(kernel, rwdir, out_dir, wanted, 2, timeout, stream)
        return _both(first, second, frozenset(wanted))


def _boot(
    kernel: GuestKernel,
    rwdir: Path,
    out_dir: Path,
    pytest_args: list[str],
    boot: int,
    timeout: float,
    stream: bool,
) -> VmResult:
    """One guest: boot, run guest.sh (its reports go to out_dir, inside rwdir), power off."""
    vng = _vng()
    env = dict(os.environ, PATH=f"{vng.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    started = time.monotonic()
    console = out_dir / "console.log"
    guest_cmd = shlex.join(
        ["env", f"BPFMAN_VM_RELEASE={kernel.release}", f"BPFMAN_VM_BOOT={boot}",
         f"BPFMAN_VM_SHARED={rwdir / SHARED_NAME}", "bash", str(GUEST_SCRIPT),
         str(out_dir), *pytest_args]
    )  # fmt: skip
    appends = [arg for option in kernel.append for arg in ("--append", option)]
    argv = [
        str(vng), "-r", str(kernel.image), *VNG_OPTIONS, *appends,
        "--rwdir", str(rwdir), "--exec", guest_cmd,
    ]  # fmt: skip
    with open(console, "wb") as log:
        proc = subprocess.Popen(
            argv,
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=None if stream else log,
            stderr=None if stream else subprocess.STDOUT,
            start_new_session=True,
        )
        _RUNNING.add(proc)
        try:
            timed_out, cpu_seconds = _wait(proc, timeout)
        finally:
            _kill_group(proc)
            _RUNNING.discard(proc)
    rc = _read_rc(out_dir / "rc")
    out = out_dir / "out.txt"
    output = out.read_text(errors="replace") if out.is_file() else ""
    if rc is None:  # the guest never finished: its console tells why
        output += console.read_text(errors="replace")
    if timed_out:
        output += f"\n[vm lane] guest killed after {timeout:.0f} s timeout\n"
    report = _read_report(out_dir / REPORT_NAME)
    release = report.get("release")
    return VmResult(
        kernel=kernel,
        rc=rc,
        output=output,
        junit=_read_junit(out_dir / "junit.xml"),
        timed_out=timed_out,
        seconds=time.monotonic() - started,
        cpu_seconds=cpu_seconds,
        release=release if isinstance(release, str) else None,
        passed=frozenset(_strings(report.get("passed"))),
        deselected=frozenset(_strings(report.get("deselected"))),
    )


def _both(first: VmResult, second: VmResult, rebooted: frozenset[str]) -> VmResult:
    """Two boots as one lane: a test that asked for the second boot passed only if it
    passed there too; the rest is added up."""
    junits = [j for j in (first.junit, second.junit) if j is not None]
    junit = (
        JunitCounts(*(sum(getattr(j, f.name) for j in junits) for f in fields(JunitCounts)))
        if len(junits) == 2
        else None
    )
    rc = None if None in (first.rc, second.rc) else (first.rc or second.rc)
    return VmResult(
        kernel=first.kernel,
        rc=rc,
        output=f"{first.output}\n[vm lane] second boot for {len(rebooted)} test(s)\n{second.output}",
        junit=junit,
        timed_out=first.timed_out or second.timed_out,
        seconds=first.seconds + second.seconds,
        cpu_seconds=first.cpu_seconds + second.cpu_seconds,
        release=first.release if first.release == second.release else None,
        passed=(first.passed - rebooted) | second.passed,
        deselected=first.deselected,
    )


def _wait(proc: subprocess.Popen[bytes], timeout: float) -> tuple[bool, float]:
    """Wait for vng; returns (timed out, CPU seconds of vng and what it waited for: qemu).

    wait4 gives this one child's usage, so lanes running side by side are told apart.
    """
    deadline = time.monotonic() + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            proc.returncode = os.waitstatus_to_exitcode(status)
            return False, usage.ru_utime + usage.ru_stime
        if time.monotonic() > deadline:
            return True, 0.0
        time.sleep(0.5)


def run_vm_lanes(
    kernels: list[GuestKernel], pytest_args: list[str], timeout: float = DEFAULT_TIMEOUT
) -> list[VmResult]:
    """Boot every kernel at once, each running the vm suite; results in kernels' order.

    Side by side because a guest has one emulated CPU (one host thread), so two
    guests share the host's two cores instead of queueing.
    """
    with ThreadPoolExecutor(max_workers=max(1, len(kernels))) as pool:
        return list(pool.map(lambda k: run_vm_lane(k, pytest_args, timeout), kernels))


def lane_timeout() -> float:
    """Seconds one guest may run: BPFMAN_VM_TIMEOUT, else DEFAULT_TIMEOUT."""
    return float(os.environ.get("BPFMAN_VM_TIMEOUT", DEFAULT_TIMEOUT))


def _kill_running() -> None:
    for proc in list(_RUNNING):
        _kill_group(proc)


_background: Future[list[VmResult]] | None = None


def matrix_in_background(timeout: float, pytest_args: list[str]) -> Future[list[VmResult]]:
    """Start every lane of the matrix once per process, in a daemon thread.

    The host suite starts the guests as soon as it knows it will need them, so
    emulated kernels boot and test while the host tests run instead of after them.
    A session that ends first (``-x``) kills the guests on its way out. The first
    call's ``pytest_args`` (the files holding vm tests) are the ones the guests run.
    """
    global _background
    if _background is None:
        future: Future[list[VmResult]] = Future()
        _background = future

        def run() -> None:
            try:
                kernels = [guest_kernel(name) for name in KERNELS]
                future.set_result(run_vm_lanes(kernels, pytest_args, timeout=timeout))
            except BaseException as exc:  # handed to whoever waits for the result
                future.set_exception(exc)

        atexit.register(_kill_running)
        threading.Thread(target=run, name="vm-lanes", daemon=True).start()
    return _background


def _strings(value: object) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def summary(result: VmResult) -> str:
    """One line about a lane: kernel, verdict, counts and time."""
    j = result.junit
    counts = (
        f"{j.tests} tests, {j.failures} failed, {j.errors} errors, {j.skipped} skipped"
        if j
        else "no junit"
    )
    return (
        f"[vm lane] {result.kernel.name} ({result.kernel.release}): rc={result.rc}, {counts}, "
        f"{len(result.deselected)} deselected as needing a newer kernel, "
        f"{result.seconds:.0f} s ({result.cpu_seconds:.0f} s of CPU)"
    )


def main(argv: list[str]) -> int:
    """Run every selected lane with argv as pytest args; 0 only if all of them passed.

    One lane streams its guest's console as it runs; several run side by side and each
    one's pytest output is printed when all are done.
    """
    timeout = lane_timeout()
    kernels = [guest_kernel(name) for name in selected_kernels()]
    for kernel in kernels:
        print(f"[vm lane] booting {kernel.name}: {kernel.image}", flush=True)
    if len(kernels) == 1:
        results = [run_vm_lane(kernels[0], argv, timeout=timeout, stream=True)]
    else:
        results = run_vm_lanes(kernels, argv, timeout=timeout)
        for result in results:
            print(f"\n[vm lane] ===== {result.kernel.name} =====\n{result.output}", flush=True)
    status = 0
    for result in results:
        print(summary(result))
        if result.rc is None:
            print(f"[vm lane] {result.kernel.name}: the guest reported no exit status")
        if result.rc != 0:
            status = 1
    missing = uncovered(results)
    if missing:
        print("[vm lane] too new for every kernel that ran, so they ran nowhere:")
        print("\n".join(f"  {nodeid}" for nodeid in missing))
        status = 1
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
