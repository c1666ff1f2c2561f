"""Release hygiene: the licences the metadata claims, one version, a complete sdist."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import tomllib
from importlib import metadata
from pathlib import Path

from elftools.elf.elffile import ELFFile

import bpfman
from tests.helpers.root import REPO

DUAL = "(GPL-2.0-only OR BSD-2-Clause)"


def tracked() -> list[str]:
    out = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "-z"], capture_output=True, check=True
    ).stdout
    return [name for name in out.decode().split("\0") if name]


def test_the_metadata_names_the_licences_the_files_carry() -> None:
    assert metadata.metadata("bpfman")["License-Expression"] == f"Apache-2.0 AND {DUAL}"
    assert "Apache License" in (REPO / "LICENSE").read_text()
    assert "Version 2.0, January 2004" in (REPO / "LICENSE").read_text()
    licences = REPO / "LICENSES"
    assert "GNU GENERAL PUBLIC LICENSE" in (licences / "GPL-2.0-only.txt").read_text()
    assert "Version 2, June 1991" in (licences / "GPL-2.0-only.txt").read_text()
    assert "Redistribution and use in source and binary forms" in (
        (licences / "BSD-2-Clause.txt").read_text()
    )
    sources = [REPO / n for n in tracked() if n.startswith("bpf/") and n.endswith((".c", ".h"))]
    assert sources
    for source in sources:
        first = source.read_text().splitlines()[0]
        assert re.fullmatch(
            rf"(//|/\*) SPDX-License-Identifier: {re.escape(DUAL)}( \*/)?", first
        ), source
    shipped = [REPO / n for n in tracked() if n.startswith("bpfman/") and n.endswith(".o")]
    assert len(shipped) >= 3  # two dispatchers and the profiler
    for obj in shipped:
        with obj.open("rb") as f:
            section = ELFFile(f).get_section_by_name("license")
            assert section is not None, obj
            assert section.data().rstrip(b"\0") == b"Dual BSD/GPL", obj


def test_one_version_everywhere() -> None:
    assert metadata.version("bpfman") == bpfman.__version__
    shown = subprocess.run(
        [sys.executable, "-m", "bpfman", "-V"], capture_output=True, text=True, check=True
    ).stdout
    assert shown == f"bpfman {bpfman.__version__}\n"
    with (REPO / "pyproject.toml").open("rb") as f:
        project = tomllib.load(f)["project"]
    assert "version" not in project and "version" in project["dynamic"]  # bpfman/__init__.py
    changelog = (REPO / "CHANGELOG.md").read_text()
    first = re.search(r"^## (\S+)", changelog, re.M)
    assert first is not None and first[1] == bpfman.__version__


def test_the_sdist_holds_every_tracked_file() -> None:
    """Built from a copy of what git tracks, as a release would be."""
    work = Path(tempfile.mkdtemp(prefix="bpfman-sdist-"))
    try:
        source = work / "src"
        files = tracked()
        for name in files:
            target = source / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, target)
        subprocess.run(
            [sys.executable, "-c",
             "import sys; from setuptools import build_meta as b; b.build_sdist(sys.argv[1])",
             str(work / "dist")],
            cwd=source, check=True, capture_output=True,
        )  # fmt: skip
        [sdist] = (work / "dist").glob("bpfman-*.tar.gz")
        assert sdist.name == f"bpfman-{bpfman.__version__}.tar.gz"
        with tarfile.open(sdist) as tar:
            prefix = f"bpfman-{bpfman.__version__}/"
            inside = {m.name.removeprefix(prefix) for m in tar.getmembers() if m.isfile()}
        wanted = {n for n in files if not n.startswith(".ci/") and n != ".gitignore"}
        assert sorted(wanted - inside) == []
    finally:
        shutil.rmtree(work, ignore_errors=True)
