"""The README's first five minutes, run as written, from a fresh clone of the commit under test.

The commands are read from the README's console block under "The first five
minutes" (lines starting with ``$ ``), so the test breaks when the README drifts from
what works. They run one by one in one shell, as root, in a sandbox
(tests/helpers/sandbox.py) whose file changes vanish with it: ``make install`` into an
empty /usr/local, bpfman's default root, the ``bpfman`` group in /etc. Each step's
result is checked from outside where the kernel shows it (the program, its XDP link,
the packets counted, the program gone after unload) or in the sandbox (its network
namespaces gone), and the machine is as before once the sandbox has ended.

The clone is of HEAD: commit first, uncommitted changes are not in it.
"""

from __future__ import annotations

import grp
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.root import REPO, require_root
from tests.helpers.sandbox import Sandbox, Step

# `make install` builds a virtualenv and pip-installs bpfman and its dependencies.
STEP_TIMEOUT = 600


def five_minutes(readme: str) -> list[str]:
    """The commands of the console block under "The first five minutes", as written."""
    section = readme.split("\n## The first five minutes\n", 1)[1].split("\n## ", 1)[0]
    block = section.split("```console\n", 1)[1].split("\n```", 1)[0]
    commands: list[str] = []
    pending: list[str] = []
    for line in block.splitlines():
        if pending or line.startswith("$ "):
            pending.append(line.removeprefix("$ ") if not pending else line)
            if not line.endswith("\\"):
                commands.append("\n".join(pending))
                pending = []
    assert not pending, f"a command ends in a backslash: {pending}"
    return commands


def test_the_readme_block_is_read_as_written() -> None:
    readme = "# x\n## The first five minutes\n\n```console\n$ a \\\n  b\nout\n$ c  # x\n```\n"
    assert five_minutes(readme) == ["a \\\n  b", "c  # x"]


def packages_asked(*make_args: str) -> list[list[str]]:
    """The package lists a make target checks (and installs when missing), as ``make -n``
    shows them."""
    shown = subprocess.run(
        ["make", "-n", "-C", str(REPO), *make_args], capture_output=True, text=True, check=True,
        env={**os.environ, "MAKEFLAGS": ""},
    ).stdout  # fmt: skip
    return [found.split() for found in re.findall(r"for p in ([^;]*); do dpkg-query", shown)]


def test_make_bpf_and_make_install_ask_only_for_their_own_packages() -> None:
    """No QEMU, kernel or podman on the way to the first five minutes."""
    assert packages_asked("bpf") == [["clang", "llvm", "libbpf-dev", "bpftool", "make"]]
    assert packages_asked("install") == [["libbpf1", "python3-venv"]]
    assert packages_asked("install", "DESTDIR=/nonexistent") == []  # a staged install
    [everything] = packages_asked("deps")
    assert {"qemu-system-x86", "linux-image-amd64", "podman", "clang", "libbpf1"} <= set(everything)


def tours(netns_dir: str) -> list[str]:
    """The tour's named network namespaces (others come and go with other tests)."""
    return sorted(n for n in os.listdir(netns_dir) if n.startswith("tour-"))


def host_state() -> dict[str, object]:
    """What the sandbox must leave as it found it."""
    try:
        group: object = grp.getgrnam("bpfman").gr_gid
    except KeyError:
        group = None
    return {
        "usr_local_bin": sorted(os.listdir("/usr/local/bin")),
        "usr_local_lib": sorted(os.listdir("/usr/local/lib")),
        "bpfman_group": group,
        "run_bpfman": os.path.exists("/run/bpfman"),
        "netns": tours("/run/netns"),
    }


def program_exists(prog_id: int) -> bool:
    shown = subprocess.run(["bpftool", "prog", "show", "id", str(prog_id)], capture_output=True)
    return shown.returncode == 0


@pytest.fixture
def clone() -> Iterator[Path]:
    """A fresh clone of the commit under test, as a newcomer's ``git clone`` makes it."""
    work = Path(tempfile.mkdtemp(prefix="bpfman-five-"))
    try:
        head = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        target = work / "bpfman"
        subprocess.run(["git", "clone", "-q", "--no-checkout", str(REPO), str(target)], check=True)
        subprocess.run(["git", "-C", str(target), "checkout", "-q", "--detach", head], check=True)
        yield target
    finally:
        shutil.rmtree(work, ignore_errors=True)


def test_the_first_five_minutes_work_as_written(clone: Path) -> None:
    require_root()
    commands = five_minutes((clone / "README.md").read_text())
    before = host_state()
    scratch = Path(tempfile.mkdtemp(prefix="bpfman-sandbox-"))
    times: list[tuple[str, float]] = []
    prog_id = None
    try:
        shell = Sandbox(scratch, clone)
        seen = f"/proc/{shell.pid}/root"  # the files as the sandbox sees them
        try:
            steps: list[Step] = []
            for command in commands:
                started = time.monotonic()
                step = shell.check(command, timeout=STEP_TIMEOUT)
                times.append((command.split("#")[0].strip(), time.monotonic() - started))
                steps.append(step)
                if command.startswith("prog="):
                    prog_id = int(shell.check('printf "%s" "$prog"').output)
                    assert program_exists(prog_id)
                elif " bpfman attach " in command:
                    assert prog_id is not None
                    shown = shell.check("ip -n tour-b -d link show veth-b").output
                    assert re.search(rf"prog/xdp id {prog_id}\b", shown), shown
                elif " bpfman unload " in command:
                    assert prog_id is not None and not program_exists(prog_id)
                elif "ip netns del tour-b" in command:
                    assert tours(f"{seen}/run/netns") == []

            def outputs(start: str) -> list[str]:
                return [s.output for s in steps if s.command.startswith(start)]

            def output(start: str) -> str:
                found = outputs(start)
                assert found, f"the README has no step {start!r}"
                return found[0]

            # make install: bpfman in /usr/local/bin, on sudo's secure_path
            link = Path(seen) / "usr/local/bin/bpfman"
            assert os.readlink(link) == "/usr/local/lib/bpfman/bin/bpfman"
            assert "(/usr/local/lib/bpfman/bin/python)" in output("sudo bpfman version")
            assert (clone / "build" / "bpf" / "app_counter.bpf.o").is_file()  # make bpf
            assert prog_id is not None, "the tour names its program's id in $prog"
            listed = output("sudo bpfman list programs").splitlines()
            assert re.match(rf"\s*{prog_id}\s+tour\s+xdp\s+xdp_stats\s+\(1\) \d+$", listed[1])
            assert re.search(r"\bveth-b pos-0$", output("sudo bpfman list links"))
            counted = json.loads(output("sudo bpftool map lookup"))
            assert counted["key"] == 5 and counted["value"] >= 3  # three pings at least
            # the last listing: nothing left
            listings = outputs("sudo bpfman list programs")
            assert len(listings) == 2 and listings[-1].splitlines()[1:] == []
        finally:
            shell.close()
        assert prog_id is None or not program_exists(prog_id)
        assert host_state() == before
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        print("\n".join(f"{seconds:6.1f} s  {command}" for command, seconds in times))
