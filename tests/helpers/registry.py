"""A real OCI registry (Debian's docker-registry) on a free loopback port.

Basic auth through an htpasswd file (bcrypt, as the registry requires) or
Bearer tokens from a small token service, storage in a temporary directory;
the process is always stopped.
"""

from __future__ import annotations

import base64
import datetime
import http.server
import json
import os
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import NameOID

from tests.helpers.build import compile_bpf
from tests.helpers.wait import eventually

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


# A VM lane guest emulates its CPUs: on a busy host docker-registry took more than 20 s
# there to answer its first request.
READY_TIMEOUT = 60.0


def _wait_ready(host: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    def asks_for_credentials() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"docker-registry exited: {log.read_text()[-2000:]}")
        try:
            urllib.request.urlopen(f"http://{host}/v2/", timeout=1)
        except urllib.error.HTTPError as e:
            return e.code == 401
        except OSError:
            pass
        return False

    # In a VM lane guest on a busy host docker-registry took more than 20 s.
    if not eventually(asks_for_credentials, timeout=60, interval=0.1):
        raise AssertionError(f"docker-registry did not start: {log.read_text()[-2000:]}")


@contextmanager
def running_registry(workdir: Path, token_auth: bool = False) -> Iterator[Registry]:
    """Start docker-registry under ``workdir`` and stop it on exit.

    With ``token_auth`` the registry answers with ``Bearer`` challenges and a
    token service (a thread of this process) hands out JWTs for the same
    user and password, as public registries do; otherwise it asks for
    ``Basic`` credentials checked against an htpasswd file.
    """
    storage = workdir / "storage"
    storage.mkdir(parents=True)
    host = f"127.0.0.1:{_free_port()}"
    with ExitStack() as stack:
        if token_auth:
            auth = stack.enter_context(_token_service(workdir))
        else:
            htpasswd = workdir / "htpasswd"
            entry = subprocess.run(
                ["htpasswd", "-nbB", USER, PASSWORD], capture_output=True, text=True, check=True
            ).stdout
            htpasswd.write_text(entry)
            auth = f"  htpasswd:\n    realm: bpfman-test\n    path: {htpasswd}\n"
        config = workdir / "config.yml"
        config.write_text(
            "version: 0.1\n"
            "log:\n  level: warn\n"
            f"storage:\n  filesystem:\n    rootdirectory: {storage}\n  delete:\n    enabled: true\n"
            f"http:\n  addr: {host}\n"
            f"auth:\n{auth}"
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


_SERVICE = "bpfman-test-registry"
_ISSUER = "bpfman-test-issuer"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _signing_identity(workdir: Path) -> tuple[ec.EllipticCurvePrivateKey, bytes]:
    """A P-256 key and its self-signed certificate (the registry's root bundle)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, _ISSUER)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    (workdir / "token-root.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key, cert.public_bytes(serialization.Encoding.DER)


def _jwt(key: ec.EllipticCurvePrivateKey, cert_der: bytes, user: str, scope: str) -> str:
    """An ES256 token granting ``scope`` (``repository:NAME:ACTIONS``) to ``user``."""
    header = {"typ": "JWT", "alg": "ES256", "x5c": [base64.b64encode(cert_der).decode()]}
    access = []
    if scope.count(":") >= 2:
        kind, rest = scope.split(":", 1)
        name, actions = rest.rsplit(":", 1)
        access.append({"type": kind, "name": name, "actions": actions.split(",")})
    now = int(time.time())
    claims = {
        "iss": _ISSUER,
        "sub": user,
        "aud": _SERVICE,
        "exp": now + 600,
        "nbf": now - 60,
        "iat": now,
        "jti": os.urandom(8).hex(),
        "access": access,
    }
    signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
    r, s = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    return f"{signing_input}.{_b64url(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


@contextmanager
def _token_service(workdir: Path) -> Iterator[str]:
    """Serve tokens for USER/PASSWORD on loopback; the registry's auth config."""
    key, cert_der = _signing_identity(workdir)
    expected = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.headers.get("Authorization") != expected:
                self.send_response(401)
                self.end_headers()
                return
            query = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
            token = _jwt(key, cert_der, USER, query.get("scope", [""])[0])
            body = json.dumps({"token": token, "access_token": token}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        realm = f"http://127.0.0.1:{server.server_address[1]}/token"
        yield (
            f"  token:\n    realm: {realm}\n    service: {_SERVICE}\n    issuer: {_ISSUER}\n"
            f"    rootcertbundle: {workdir / 'token-root.pem'}\n"
        )
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def write_keypair(directory: Path, name: str) -> tuple[Path, Path]:
    """A new P-256 key pair as ``NAME.pem`` (PKCS#8) and ``NAME.pub``: their paths."""
    key = ec.generate_private_key(ec.SECP256R1())
    private = directory / f"{name}.pem"
    public = directory / f"{name}.pub"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private, public


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


def image_objects_in(directory: Path) -> dict[str, Path]:
    """Compile the test sources: ``xdp`` and ``tp``, and ``be``, a big-endian ``xdp``."""
    return {
        "xdp": compile_bpf(XDP_TC_SOURCE, directory / "xdp.bpf.o"),
        "tp": compile_bpf(TRACEPOINT_SOURCE, directory / "tp.bpf.o"),
        "be": compile_bpf(XDP_TC_SOURCE, directory / "be.bpf.o", target="bpfeb"),
    }


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
