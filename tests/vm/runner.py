"""Run the `vm`-marked tests inside a QEMU guest booted by virtme-ng.

The host kernel refuses fentry/fexit/freplace and has no kprobes, so those tests run in
a guest with a full-featured kernel that sees the host filesystem. The guest reports
back through files in a shared directory, because vng's own exit status does not carry
the guest command's status.

Script use (what `make test-vm` calls): ``python -m tests.vm.runner [pytest args]``.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
GUEST_SCRIPT = Path(__file__).resolve().with_name("guest.sh")
DEFAULT_TIMEOUT = 1200.0  # the whole vm suite, under TCG on 2 shared cores
# Software emulation: KVM guests hang before the kernel prints anything on these hosts.
VNG_OPTIONS = ("--disable-kvm", "--force-9p", "--cpus", "2", "-m", "1G")


class VmLaneError(Exception):
    """The guest could not be started at all (no kernel, no vng)."""


@dataclass(frozen=True)
class JunitCounts:
    """Totals from the guest's junit xml."""

    tests: int
    failures: int
    errors: int
    skipped: int


@dataclass(frozen=True)
class VmResult:
    """What the guest reported; rc is None when it never wrote one (boot or run failed)."""

    rc: int | None
    output: str
    junit: JunitCounts | None
    timed_out: bool


def _version_key(path: Path) -> list[int]:
    return [int(part) for part in re.findall(r"\d+", path.name)]


def guest_kernel() -> Path:
    """BPFMAN_VM_KERNEL, else the newest /boot/vmlinuz-* that is not the running kernel."""
    chosen = os.environ.get("BPFMAN_VM_KERNEL")
    if chosen:
        path = Path(chosen)
        if not path.is_file():
            raise VmLaneError(f"BPFMAN_VM_KERNEL={chosen} is not a file")
        return path
    running = os.uname().release
    candidates = [p for p in Path("/boot").glob("vmlinuz-*") if p.name != f"vmlinuz-{running}"]
    if not candidates:
        raise VmLaneError(
            f"no guest kernel: /boot has no vmlinuz-* other than the running {running} "
            "(install linux-image-amd64 or set BPFMAN_VM_KERNEL)"
        )
    return max(candidates, key=_version_key)


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


def run_vm_lane(
    pytest_args: list[str], timeout: float = DEFAULT_TIMEOUT, stream: bool = False
) -> VmResult:
    """Boot the guest once and run ``pytest -m vm`` there with pytest_args.

    With stream, the guest console goes to this process's stdout as it runs; otherwise it
    is captured and added to the output when the guest reported no exit status.
    """
    kernel = guest_kernel()
    vng = _vng()
    env = dict(os.environ, PATH=f"{vng.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    with tempfile.TemporaryDirectory(prefix="bpfman-vm-") as tmp:
        rwdir = Path(tmp)
        console = rwdir / "console.log"
        guest_cmd = shlex.join(["bash", str(GUEST_SCRIPT), str(rwdir), *pytest_args])
        argv = [
            str(vng), "-r", str(kernel), *VNG_OPTIONS,
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
            timed_out = False
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                timed_out = True
            finally:
                _kill_group(proc)
        rc = _read_rc(rwdir / "rc")
        out = rwdir / "out.txt"
        output = out.read_text(errors="replace") if out.is_file() else ""
        if rc is None:  # the guest never finished: its console tells why
            output += console.read_text(errors="replace")
        if timed_out:
            output += f"\n[vm lane] guest killed after {timeout:.0f} s timeout\n"
        return VmResult(
            rc=rc,
            output=output,
            junit=_read_junit(rwdir / "junit.xml"),
            timed_out=timed_out,
        )


def main(argv: list[str]) -> int:
    """Run the lane with argv as pytest args; exit with the guest's pytest status."""
    timeout = float(os.environ.get("BPFMAN_VM_TIMEOUT", DEFAULT_TIMEOUT))
    result = run_vm_lane(argv, timeout=timeout, stream=True)
    if result.rc is None:
        print("[vm lane] the guest reported no exit status", file=sys.stderr)
        return 1
    return result.rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
