"""OCI and Docker v2 media types, digests and platform selection."""

from __future__ import annotations

import hashlib
import json
import platform
import re
from collections.abc import Mapping
from typing import Any

from bpfman.errors import ImageError

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_TAR = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_LAYER_TAR = "application/vnd.docker.image.rootfs.diff.tar"

MANIFEST_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
LAYER_TYPES = (OCI_LAYER_GZIP, OCI_LAYER_TAR, DOCKER_LAYER_GZIP, DOCKER_LAYER_TAR)
MAX_MANIFEST_BYTES = 4 << 20
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")

# Python's machine names to Go's GOARCH, which OCI platforms use.
_GOARCH = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "i386": "386",
    "i686": "386",
    "aarch64": "arm64",
    "arm64": "arm64",
    "armv7l": "arm",
    "armv6l": "arm",
    "ppc64le": "ppc64le",
    "ppc64": "ppc64",
    "s390x": "s390x",
    "riscv64": "riscv64",
    "loongarch64": "loong64",
    "mips64": "mips64",
    "mips": "mips",
}


def host_goarch() -> str:
    """The host's architecture as an OCI platform names it."""
    machine = platform.machine()
    return _GOARCH.get(machine, machine)


def sha256_digest(data: bytes) -> str:
    """``sha256:<hex>`` of ``data``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def check_digest(digest: str) -> str:
    """``digest`` if it is a well-formed sha256 digest; anything else could escape paths."""
    if not isinstance(digest, str) or not _DIGEST.fullmatch(digest):
        raise ImageError(f"unsupported or malformed digest {digest!r}: only sha256 is accepted")
    return digest


def descriptor(media_type: str, data: bytes, **extra: Any) -> dict[str, Any]:
    """An OCI descriptor for ``data``."""
    return {"mediaType": media_type, "digest": sha256_digest(data), "size": len(data), **extra}


def canonical_json(obj: Any) -> bytes:
    """Stable JSON bytes, so that equal content gets an equal digest."""
    return json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()


def parse_json(data: bytes, what: str) -> dict[str, Any]:
    """A JSON object, or an image error naming what was malformed."""
    try:
        obj = json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise ImageError(f"malformed {what}: {e}") from None
    if not isinstance(obj, dict):
        raise ImageError(f"malformed {what}: not a JSON object")
    return obj


def media_type_of(manifest: Mapping[str, Any], header: str | None) -> str:
    """The manifest's media type: its own field first, the HTTP header second."""
    declared = manifest.get("mediaType")
    if isinstance(declared, str) and declared:
        return declared
    if "manifests" in manifest:
        return OCI_INDEX
    return (header or OCI_MANIFEST).split(";")[0].strip()


def pick_platform(index: Mapping[str, Any], image: str, arch: str) -> dict[str, Any]:
    """The index entry for linux/``arch``; a missing one names what the index has."""
    entries = index.get("manifests")
    if not isinstance(entries, list):
        raise ImageError(f"malformed index of {image}: no manifests list")
    seen: list[str] = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("platform"), dict):
            continue
        os_name, entry_arch = entry["platform"].get("os"), entry["platform"].get("architecture")
        if os_name == "linux" and entry_arch == arch:
            return entry
        if os_name != "unknown":
            seen.append(f"{os_name}/{entry_arch}")
    have = ", ".join(seen) or "none"
    raise ImageError(f"image {image} has no linux/{arch} bytecode (it has: {have})")
