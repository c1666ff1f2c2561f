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


# Test bytecode: small BPF objects compiled with clang, independent of bpf/.
XDP_TC_SOURCE = r"""
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __u64);
} xdp_stats_map SEC(".maps");
volatile const __u8 GLOBAL_u8 = 0;
SEC("xdp") int xdp_stats(struct xdp_md *ctx) {
    __u32 key = 0;
    __u64 *value = bpf_map_lookup_elem(&xdp_stats_map, &key);
    if (value) (*value)++;
    return XDP_PASS;
}
SEC("classifier/stats") int stats(struct __sk_buff *skb) { return GLOBAL_u8; }
char _license[] SEC("license") = "GPL";
"""
TRACEPOINT_SOURCE = r"""
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 16);
    __type(key, __u32);
    __type(value, __u64);
} kill_map SEC(".maps");
SEC("tracepoint/syscalls/sys_enter_kill") int tracepoint_kill_recorder(void *ctx) { return 0; }
SEC("kretprobe/do_unlinkat") int my_kretprobe(void *ctx) { return 0; }
char _license[] SEC("license") = "GPL";
"""


def compile_bpf(source: str, out: Path, target: str = "bpf") -> Path:
    """Compile ``source`` to ``out`` (``target`` bpfeb for a big-endian object)."""
    src = out.with_suffix(".c")
    src.write_text(source)
    subprocess.run(
        [
            "clang",
            "-O2",
            "-g",
            "-target",
            target,
            "-I/usr/include/x86_64-linux-gnu",
            "-c",
            str(src),
            "-o",
            str(out),
        ],
        check=True,
    )
    return out


_SECTION_TYPES = {
    "xdp": "xdp",
    "tc": "tc",
    "classifier": "tc",
    "tcx": "tcx",
    "tracepoint": "tracepoint",
    "tp": "tracepoint",
    "kprobe": "kprobe",
    "kretprobe": "kprobe",
    "uprobe": "uprobe",
    "uretprobe": "uprobe",
    "fentry": "fentry",
    "fexit": "fexit",
}


def infer_type(section: str) -> str | None:
    """A stand-in for the plugins' section-name inference."""
    return _SECTION_TYPES.get(section.split("/", 1)[0])
