"""An isolated bpfman root per test, and a way to drive the real CLI against it."""

from __future__ import annotations

import contextlib
import io
import json
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

REPO = Path(__file__).resolve().parents[2]
BPFMAN = [sys.executable, "-m", "bpfman"]
# In the VM lane's guests (tests/vm/guest.sh) the CLI runs in the test's own process.
IN_PROCESS = os.environ.get("BPFMAN_IN_VM") == "1"

Arg = str | int | os.PathLike[str]


def require_root() -> None:
    """Skip (with the reason) where root is missing; never skips as root."""
    if os.geteuid() != 0:
        pytest.skip("needs root: loads BPF programs and creates network namespaces")


def le32(value: int, signed: bool = False) -> str:
    """A 32-bit global as ``-g`` wants it: little-endian, plain hex."""
    return value.to_bytes(4, "little", signed=signed).hex()


class Root:
    """An isolated bpfman root and a way to drive the real CLI against it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.env = {**os.environ, "BPFMAN_ROOT": str(path)}

    def run(
        self, *args: Arg, check: bool = True, apart: bool = False
    ) -> subprocess.CompletedProcess[str]:
        """Run ``bpfman ARGS``; ``apart`` insists on a process of its own (see IN_PROCESS)."""
        argv = [str(a) for a in args]
        if IN_PROCESS and not apart:
            proc = self._in_process(argv)
        else:
            proc = subprocess.run(
                [*BPFMAN, *argv], env=self.env, capture_output=True, text=True, cwd=REPO
            )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"bpfman {' '.join(map(str, args))} failed ({proc.returncode}):\n"
                f"{proc.stdout}\n{proc.stderr}"
            )
        return proc

    def _in_process(self, argv: list[str]) -> subprocess.CompletedProcess[str]:
        """The CLI's entry point called in this process, with this root's environment.

        Inside the VM lane's emulated guests an interpreter takes seconds to start, so
        the guests drive the same entry point without one; the host suite keeps a
        process per command (exit codes and crashes are tested there).
        """
        from bpfman.cli.entry import main

        out, err = io.StringIO(), io.StringIO()
        saved = dict(os.environ)
        os.environ.clear()
        os.environ.update(self.env)
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = main(argv)
        finally:
            os.environ.clear()
            os.environ.update(saved)
        return subprocess.CompletedProcess([*BPFMAN, *argv], code, out.getvalue(), err.getvalue())

    def json(self, *args: Arg) -> Any:
        return json.loads(self.run(*args, "-o", "json").stdout)

    def fail(self, *args: Arg) -> str:
        """Run a command that must fail cleanly; return its one stderr line."""
        proc = self.run(*args, check=False)
        assert proc.returncode != 0, f"expected failure, got:\n{proc.stdout}"
        assert "Traceback" not in proc.stderr, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1, f"expected one stderr line, got:\n{proc.stderr}"
        return lines[0]

    def load(self, obj: Arg, *args: Arg) -> list[dict[str, Any]]:
        """``load file -p OBJ ARGS...`` (``--programs`` and the rest): the loaded programs."""
        loaded = self.json("load", "file", "-p", obj, *args)
        assert isinstance(loaded, list) and loaded, loaded
        return loaded

    def load_id(self, obj: Arg, *args: Arg) -> int:
        """The id of the first program :meth:`load` loaded."""
        return int(self.load(obj, *args)[0]["id"])

    def attach(self, *args: Arg) -> dict[str, Any]:
        """``attach ARGS...`` with its JSON output (``-o`` is the probes' offset there)."""
        link: dict[str, Any] = json.loads(self.run("attach", "--output", "json", *args).stdout)
        return link

    def maps(self, owner: int) -> Path:
        """The directory holding the maps of program ``owner`` (or its map owner)."""
        return self.path / "fs" / "maps" / str(owner)

    def manager(self) -> Bpfman:
        return Bpfman(self.path)

    def cleanup(self) -> None:
        """Unload whatever the test left, then drop the bpffs and the files.

        The bpffs and the files go even when the store cannot be read (a test that
        corrupted it and failed): unmounting the bpffs drops every pin under it.
        """
        try:
            self._unload_all()
        finally:
            self._drop()

    def _unload_all(self) -> None:
        if (self.path / "db" / "data.mdb").exists():
            with self.manager() as mgr:
                for row in mgr.list_programs():
                    with contextlib.suppress(Exception):  # keep cleaning the rest
                        mgr.unload(row.id)

    def _drop(self) -> None:
        fs = self.path / "fs"
        while is_bpffs(fs):  # stacked mounts (a racing first command) come off one by one
            if subprocess.run(["umount", "-l", str(fs)], check=False).returncode:
                break
        shutil.rmtree(self.path, ignore_errors=True)


def load_counter(root: Root, objects: Path, *extra: Arg) -> int:
    """Load ``tracepoint_counter`` (``extra``: more ``load file`` flags); its program id."""
    return root.load_id(
        objects / "tracepoint_counter.bpf.o", "--programs", "tracepoint:tracepoint_counter", *extra
    )


@contextlib.contextmanager
def fresh_root() -> Iterator[Root]:
    """A new root in a temporary directory, cleaned up on exit (needs root)."""
    require_root()
    root = Root(Path(tempfile.mkdtemp(prefix="bpfman-test-")))
    try:
        yield root
    finally:
        root.cleanup()
