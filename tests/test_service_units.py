"""The systemd units pass systemd-analyze, and make install/uninstall honour DESTDIR/PREFIX."""

from __future__ import annotations

import gzip
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.root import BPFMAN, REPO, require_root

UNITS = REPO / "systemd"


@pytest.fixture
def tmp_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="bpfman-units-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


SERVICES = ("bpfman", "bpfman-metrics")


def render(bindir: Path, into: Path) -> list[Path]:
    """The socket, then the services, as make install writes them."""
    socket = into / "bpfman.socket"
    shutil.copy(UNITS / "bpfman.socket", socket)
    units = [socket]
    for name in SERVICES:
        unit = into / f"{name}.service"
        unit.write_text((UNITS / f"{name}.service.in").read_text().replace("@BINDIR@", str(bindir)))
        units.append(unit)
    return units


def analyze(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["systemd-analyze", *args], capture_output=True, text=True, env=env)


def test_units_pass_systemd_analyze_verify(tmp_dir: Path) -> None:
    """verify also runs `man` on every Documentation= page: the generated ones must exist."""
    bindir = Path(sys.executable).parent  # this checkout's bpfman and bpfman-rpc
    assert (bindir / "bpfman-rpc").exists()
    units = render(bindir, tmp_dir)
    man = tmp_dir / "man"
    subprocess.run([*BPFMAN, "man", str(man / "man1")], check=True, capture_output=True)
    env = {**os.environ, "MANPATH": str(man)}
    proc = analyze("verify", *map(str, units), env=env)
    assert proc.returncode == 0 and proc.stdout + proc.stderr == "", proc.stdout + proc.stderr
    text = units[0].read_text()
    assert "ListenStream=/run/bpfman-sock/bpfman.sock" in text
    assert "SocketMode=0660" in text
    for unit in units[1:]:
        assert re.search(r"^Documentation=man:bpfman", unit.read_text(), re.M), unit
    # without the pages, Documentation= points nowhere
    missing = analyze("verify", *map(str, units), env={**env, "MANPATH": str(tmp_dir / "none")})
    assert missing.returncode != 0 and "man bpfman" in missing.stderr
    # a unit naming a missing program is what verify is for
    render(tmp_dir / "nowhere", tmp_dir)
    bad = analyze("verify", *map(str, units), env=env)
    assert bad.returncode != 0 and "not executable" in bad.stderr


def test_services_are_hardened(tmp_dir: Path) -> None:
    """`systemd-analyze security` rates each service 4.0 or lower (it was 7.9, EXPOSED)."""
    for unit in render(Path(sys.executable).parent, tmp_dir)[1:]:
        proc = analyze("security", "--offline=true", str(unit))
        found = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", proc.stdout)
        assert found is not None, proc.stdout + proc.stderr
        assert float(found[1]) <= 4.0, proc.stdout
        text = unit.read_text()
        # what keeps the CLI and the service on one bpffs: mounted outside the sandbox
        assert re.search(r"^ExecStartPre=\+\S+/bpfman system recover$", text, re.M), unit
        assert "RuntimeDirectoryPreserve=yes" in text


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
    # the system's interpreter, not the python3 that runs this suite (a pyenv build here)
    assert "home = /usr/bin\n" in (app / "pyvenv.cfg").read_text()
    units = prefix / "lib" / "systemd" / "system"
    assert "ExecStart=/opt/bpfman-test/bin/bpfman-rpc\n" in (units / "bpfman.service").read_text()
    metrics = (units / "bpfman-metrics.service").read_text()
    assert "ExecStart=/opt/bpfman-test/bin/bpfman system metrics" in metrics
    restore = (units / "bpfman-restore.service").read_text()
    assert "ExecStart=/opt/bpfman-test/bin/bpfman system apply /etc/bpfman/programs.d" in restore
    assert not list(dest.rglob("*.wants"))  # installed, enabled nowhere
    assert (units / "bpfman.socket").read_text() == (UNITS / "bpfman.socket").read_text()
    assert not any(
        str(dest) in p.read_text(errors="ignore") for p in (app / "bin").iterdir() if p.is_file()
    )
    version = subprocess.run(
        [str(app / "bin" / "python"), "-m", "bpfman.cli.rpc", "--help"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "--socket-path" in version.stdout
    man1 = prefix / "share" / "man" / "man1"
    assert (man1 / "bpfman.1.gz").is_file() and (man1 / "bpfman-load-file.1.gz").is_file()
    # bpfctl's too; dated from this tree though the installed bpfman runs from elsewhere
    page = gzip.decompress((man1 / "bpfctl.1.gz").read_bytes()).decode()
    assert re.match(r'\.TH BPFCTL 1 "\d{4}-\d\d-\d\d" "bpfman ', page), page[:80]
    for script in ("bash-completion/completions/bpfman", "zsh/site-functions/_bpfman",
                   "fish/vendor_completions.d/bpfman.fish"):  # fmt: skip
        assert "_BPFMAN_COMPLETE" in (prefix / "share" / script).read_text()

    subprocess.run([*make, "uninstall"], check=True, env=env, capture_output=True)
    left = [p for p in dest.rglob("*") if not p.is_dir()]
    assert left == []


def test_the_unit_gives_the_service_fds_for_its_connections() -> None:
    """Three fds a connection at the default cap, plus room for loads: more than the
    usual soft limit of 1,024, at which a flood of idle connections used every fd."""
    from bpfman.serving.relay import FD_RESERVE, FDS_PER_CONNECTION, Limits

    found = re.search(r"^LimitNOFILE=(\d+)$", (UNITS / "bpfman.service.in").read_text(), re.M)
    assert found, "the unit sets no LimitNOFILE"
    needed = FD_RESERVE + FDS_PER_CONNECTION * Limits().max_connections
    assert int(found.group(1)) >= 2 * needed > 1024
