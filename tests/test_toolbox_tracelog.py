"""bpfman tracelog: bpf_printk lines reach stdout; Ctrl-C ends it cleanly; tracefs
is mounted when it is mounted nowhere (checked in a private mount namespace)."""

from __future__ import annotations

import secrets
import shlex
import subprocess
import sys
from pathlib import Path

from tests.helpers.root import REPO, Root
from tests.helpers.toolbox import FRAME, Background, load_program


def test_tracelog_streams_printk_and_stops_on_ctrl_c(
    root: Root, objects: Path, tmp_path: Path
) -> None:
    token = secrets.randbelow(1 << 31)
    prog = load_program(
        root,
        objects / "toolbox.bpf.o",
        "xdp:xdp_toolbox",
        "-g",
        f"token={token.to_bytes(4, 'little').hex()}",
    )
    frame = tmp_path / "frame"
    frame.write_bytes(FRAME)
    with Background(root, "tracelog") as tracelog:
        # The pipe is read from now on; runs print until our line shows up.
        for _ in range(20):
            root.run("run", prog, "--data-in", frame, "--repeat", "5")
            try:
                line = tracelog.wait_for(f"bpfman-toolbox xdp {token}", timeout=1.0)
                break
            except AssertionError:
                continue
        else:
            raise AssertionError("the program's trace line never reached tracelog")
        assert "bpf_trace_printk" in line
        code, err = tracelog.stop()
    assert code == 0, err
    assert err == ""


def test_tracelog_mounts_tracefs_when_it_is_missing() -> None:
    """In a private mount namespace without tracefs, tracelog mounts it and runs."""
    bpfman = shlex.join([sys.executable, "-m", "bpfman", "tracelog"])
    script = (
        "for m in $(awk '$3 == \"tracefs\" {print $2}' /proc/self/mounts); do umount $m; done; "
        "grep -c ' tracefs ' /proc/self/mounts; "
        f"timeout --preserve-status -s INT 2 {bpfman} > /dev/null; echo rc=$?; "
        "awk '$3 == \"tracefs\" {print $2}' /proc/self/mounts"
    )
    proc = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    lines = proc.stdout.split()
    assert lines[:2] == ["0", "rc=0"], (proc.stdout, proc.stderr)
    assert lines[2:] == ["/sys/kernel/tracing"], proc.stdout
    assert "Traceback" not in proc.stderr
