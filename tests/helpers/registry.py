"""A real OCI registry (Debian's docker-registry) on a free loopback port.

Basic auth through an htpasswd file (bcrypt, as the registry requires),
storage in a temporary directory; the process is always stopped.
"""

from __future__ import annotations

import base64
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

USER = "bpfman"
PASSWORD = "s3cret-pass"


@dataclass(frozen=True)
class Registry:
    """A running registry: ``host`` is ``127.0.0.1:<port>``."""

    host: str
    user: str
    password: str
    storage: Path

    @property
    def auth(self) -> str:
        """Base64 ``user:password``, the form ``--registry-auth`` takes."""
        return base64.b64encode(f"{self.user}:{self.password}".encode()).decode()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(host: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"docker-registry exited: {log.read_text()[-2000:]}")
        try:
            urllib.request.urlopen(f"http://{host}/v2/", timeout=1)
        except urllib.error.HTTPError as e:
            if e.code == 401:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"docker-registry did not start: {log.read_text()[-2000:]}")


@contextmanager
def running_registry(workdir: Path) -> Iterator[Registry]:
    """Start docker-registry under ``workdir`` and stop it on exit."""
    storage = workdir / "storage"
    storage.mkdir(parents=True)
    htpasswd = workdir / "htpasswd"
    entry = subprocess.run(
        ["htpasswd", "-nbB", USER, PASSWORD], capture_output=True, text=True, check=True
    ).stdout
    htpasswd.write_text(entry)
    host = f"127.0.0.1:{_free_port()}"
    config = workdir / "config.yml"
    config.write_text(
        "version: 0.1\n"
        "log:\n  level: warn\n"
        f"storage:\n  filesystem:\n    rootdirectory: {storage}\n  delete:\n    enabled: true\n"
        f"http:\n  addr: {host}\n"
        f"auth:\n  htpasswd:\n    realm: bpfman-test\n    path: {htpasswd}\n"
    )
    log = workdir / "registry.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            ["docker-registry", "serve", str(config)], stdout=out, stderr=subprocess.STDOUT
        )
    try:
        _wait_ready(host, proc, log)
        yield Registry(host, USER, PASSWORD, storage)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
