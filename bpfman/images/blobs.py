"""The local content-addressed store: blobs by digest, tags by reference.

Layout under ``<root>/images``: ``blobs/sha256/<hex>`` holds each manifest,
config and layer exactly as the registry served it; ``refs/<hash>.json``
records what a reference resolved to. Every read re-hashes the blob, so a
blob changed on disk is reported instead of loaded. Writes go through a
temporary file and a rename, so a crash never leaves a half-written blob.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from bpfman.errors import ImageError
from bpfman.images.oci import check_digest, sha256_digest


class BlobStore:
    """Blobs and reference records under one directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._blobs = root / "blobs" / "sha256"
        self._refs = root / "refs"

    def blob_path(self, digest: str) -> Path:
        """Where the blob ``digest`` lives (whether or not it is there)."""
        return self._blobs / check_digest(digest).split(":", 1)[1]

    def get(self, digest: str) -> bytes:
        """The blob, verified against its digest."""
        try:
            data = self.blob_path(digest).read_bytes()
        except FileNotFoundError:
            raise ImageError(
                f"local image store is missing blob {digest}; pull again with --pull-policy Always"
            ) from None
        if sha256_digest(data) != digest:
            raise ImageError(
                f"local image store blob {digest} is corrupted (content does not match its"
                " digest); pull again with --pull-policy Always"
            )
        return data

    def put(self, data: bytes) -> str:
        """Store ``data``; its digest."""
        digest = sha256_digest(data)
        _atomic_write(self.blob_path(digest), data)
        return digest

    def get_ref(self, key: str) -> dict[str, Any] | None:
        """The record stored for reference ``key``, or None."""
        try:
            record = json.loads(self._ref_path(key).read_text())
        except FileNotFoundError:
            return None
        except ValueError:
            raise ImageError(f"local image store record for {key} is corrupted") from None
        return record if isinstance(record, dict) and record.get("ref") == key else None

    def put_ref(self, key: str, record: dict[str, Any]) -> None:
        """Record what reference ``key`` resolved to."""
        _atomic_write(self._ref_path(key), json.dumps({**record, "ref": key}).encode())

    def _ref_path(self, key: str) -> Path:
        return self._refs / (hashlib.sha256(key.encode()).hexdigest() + ".json")


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
