"""The systemd units pass systemd-analyze, and make install/uninstall honour DESTDIR/PREFIX."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.root import REPO, require_root

UNITS = REPO / "systemd"


@pytest.fixture
def tmp_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="bpfman-units-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def render(bindir: Path, into: Path) -> tuple[Path, Path]:
    service = into / "bpfman.service"
    service.write_text((UNITS / "bpfman.service.in").read_text().replace("@BINDIR@", str(bindir)))
    socket = into / "bpfman.socket"
    shutil.copy(UNITS / "bpfman.socket", socket)
    return service, socket


def test_units_pass_systemd_analyze_verify(tmp_dir: Path) -> None:
    bindir = Path(sys.executable).parent  # this checkout's bpfman-rpc
    assert (bindir / "bpfman-rpc").exists()
    service, socket = render(bindir, tmp_dir)
    proc = subprocess.run(
        ["systemd-analyze", "verify", str(socket), str(service)], capture_output=True, text=True
    )
    assert proc.returncode == 0 and proc.stdout + proc.stderr == "", proc.stdout + proc.stderr
    text = socket.read_text()
    assert "ListenStream=/run/bpfman-sock/bpfman.sock" in text
    assert "SocketMode=0660" in text
    # a unit naming a missing program is what verify is for
    render(tmp_dir / "nowhere", tmp_dir)
    bad = subprocess.run(
        ["systemd-analyze", "verify", str(socket), str(service)], capture_output=True, text=True
    )
    assert bad.returncode != 0 and "not executable" in bad.stderr


def test_make_install_and_uninstall_honour_destdir_and_prefix(tmp_dir: Path) -> None:
    require_root()
    dest = tmp_dir / "dest"
    env = {**os.environ, "MAKEFLAGS": ""}
    make = ["make", "-s", "-C", str(REPO), f"DESTDIR={dest}", "PREFIX=/opt/bpfman-test"]
    subprocess.run([*make, "install"], check=True, env=env, capture_output=True)
    prefix = dest / "opt" / "bpfman-test"
    app = prefix / "lib" / "bpfman"
    for name in ("bpfman", "bpfman-rpc"):
        link = prefix / "bin" / name
        assert os.readlink(link) == f"/opt/bpfman-test/lib/bpfman/bin/{name}"
        assert (
            (app / "bin" / name).read_text().startswith("#!/opt/bpfman-test/lib/bpfman/bin/python")
        )
    units = prefix / "lib" / "systemd" / "system"
    assert "ExecStart=/opt/bpfman-test/bin/bpfman-rpc\n" in (units / "bpfman.service").read_text()
    assert (units / "bpfman.socket").read_text() == (UNITS / "bpfman.socket").read_text()
    assert not any(
        str(dest) in p.read_text(errors="ignore") for p in (app / "bin").iterdir() if p.is_file()
    )
    version = subprocess.run(
        [str(app / "bin" / "python"), "-m", "bpfman.service.rpc", "--help"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "--socket-path" in version.stdout
    man1 = prefix / "share" / "man" / "man1"
    assert (man1 / "bpfman.1.gz").is_file() and (man1 / "bpfman-load-file.1.gz").is_file()

    subprocess.run([*make, "uninstall"], check=True, env=env, capture_output=True)
    left = [p for p in dest.rglob("*") if not p.is_dir()]
    assert left == []


def test_the_unit_gives_the_service_fds_for_its_connections() -> None:
    """Three fds a connection at the default cap, plus room for loads: more than the
    usual soft limit of 1,024, at which a flood of idle connections used every fd."""
    from bpfman.service.relay import FD_RESERVE, FDS_PER_CONNECTION, Limits

    found = re.search(r"^LimitNOFILE=(\d+)$", (UNITS / "bpfman.service.in").read_text(), re.M)
    assert found, "the unit sets no LimitNOFILE"
    needed = FD_RESERVE + FDS_PER_CONNECTION * Limits().max_connections
    assert int(found.group(1)) >= 2 * needed > 1024
