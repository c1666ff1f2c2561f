"""The distribution API over oras-py: manifests and blobs, verified.

oras-py supplies the HTTP session and the auth backends (Basic for htpasswd
registries, Bearer tokens for public ones). The backend is chosen from the
challenge the registry answers ``/v2/`` with, since oras-py's token backend
fails against Basic-only registries. Requests go through oras-py's request
function without its retry wrapper, whose back-off sleeps for minutes on an
unreachable registry.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import oras.auth
import oras.provider

from bpfman.errors import ImageError, NotFoundError, RegistryAuthError, RegistryUnreachableError
from bpfman.images.credentials import decode_auth
from bpfman.images.oci import (
    INDEX_TYPES,
    MANIFEST_TYPES,
    MAX_MANIFEST_BYTES,
    check_digest,
    sha256_digest,
)
from bpfman.images.reference import ImageRef
from bpfman.images.settings import ImageSettings

Progress = Callable[[int, int], None]
_CHUNK = 64 << 10


class _Registry(oras.provider.Registry):  # type: ignore[misc]
    """oras-py's registry without the multi-minute retry back-off."""

    do_request = oras.provider.Registry.do_request.__wrapped__


class RegistryClient:
    """One registry host, with optional base64 ``user:password`` credentials."""

    def __init__(self, ref: ImageRef, settings: ImageSettings, auth: str | None) -> None:
        self._ref = ref
        self._host = ref.api_host
        self._insecure = settings.is_insecure(ref.registry)
        self._scheme = "http" if self._insecure else "https"
        self._creds = decode_auth(auth) if auth else None
        self._reg: Any = None
        self._headers: dict[str, str] = {}

    def _connect(self) -> Any:
        """Ping ``/v2/`` once and set up the auth backend its challenge asks for."""
        if self._reg is not None:
            return self._reg
        probe = _Registry(hostname=self._host, insecure=self._insecure, auth_backend="basic")
        try:  # unauthenticated on purpose: the challenge is what we want
            response = probe.session.request("GET", self._url("/v2/"), timeout=30)
        except OSError as e:
            raise self._unreachable(e) from None
        challenge = response.headers.get("WWW-Authenticate", "")
        if response.status_code == 401 and challenge.lower().startswith("bearer"):
            reg = _Registry(hostname=self._host, insecure=self._insecure, auth_backend="token")
        elif response.status_code == 401:
            if self._creds is None:
                raise self._unauthorized()
            reg = probe
        elif response.status_code == 200:
            reg = probe
        else:
            raise ImageError(
                f"registry {self._ref.registry} answered /v2/ with HTTP {response.status_code}"
            )
        if self._creds is not None:
            reg.auth.set_basic_auth(*self._creds)
            if isinstance(reg.auth, oras.auth.BasicAuth):
                self._headers = dict(reg.auth.get_auth_header())
        self._reg = reg
        return reg

    def _url(self, path: str) -> str:
        return f"{self._scheme}://{self._host}{path}"

    def _repo_url(self, kind: str, reference: str) -> str:
        return self._url(f"/v2/{self._ref.repository}/{kind}/{reference}")

    def _send(self, reg: Any, method: str, url: str, headers: dict[str, str], **kw: Any) -> Any:
        """One request; a Bearer token lacking this request's scope is fetched anew.

        oras-py keeps its first token, so a push after a pull (scope ``pull``)
        would otherwise be refused.
        """
        try:
            response = reg.do_request(url, method, headers={**self._headers, **headers}, **kw)
            if response.status_code == 401 and getattr(reg.auth, "token", None):
                response.close()
                reg.auth.token = None
                response = reg.do_request(url, method, headers={**self._headers, **headers}, **kw)
            return response
        except OSError as e:  # requests' errors derive from OSError
            raise self._unreachable(e) from None
        except (ValueError, AttributeError):  # oras-py could not answer the auth challenge
            raise self._unauthorized() from None

    def _unauthorized(self, what: str = "") -> RegistryAuthError:
        registry = f"registry {self._ref.registry}"
        if self._creds is None:
            return RegistryAuthError(
                f"unauthorized: {registry} requires credentials"
                " (pass --registry-auth base64 user:password)"
            )
        return RegistryAuthError(f"unauthorized: {registry} refused the credentials{what}")

    def _unreachable(self, error: OSError) -> RegistryUnreachableError:
        hint = "" if self._insecure else " over HTTPS (images.insecure_registries allows HTTP)"
        # requests nests the cause in a long repr; the errno text is what matters.
        cause = re.search(r"\[Errno -?\d+\] [^'\")]+|\[SSL[^\]]*\][^'\"(]*", str(error))
        detail = cause.group(0).strip() if cause else str(error)
        return RegistryUnreachableError(
            f"cannot reach registry {self._ref.registry}{hint}: {detail}"
        )

    def _check(self, response: Any, what: str) -> None:
        code = response.status_code
        if code in (200, 201, 202):
            return
        if code in (401, 403):
            raise self._unauthorized(f" for {what}")
        if code == 404:
            raise NotFoundError(f"{what} not found in registry {self._ref.registry}")
        raise ImageError(f"registry {self._ref.registry} answered HTTP {code} for {what}")

    def get_manifest(self, reference: str) -> tuple[bytes, str | None]:
        """The raw manifest or index bytes at ``reference`` and the Content-Type."""
        reg = self._connect()
        accept = ", ".join((*MANIFEST_TYPES, *INDEX_TYPES))
        what = f"image {self._ref.name}:{reference}".replace(":sha256:", "@sha256:")
        with self._stream(reg, "GET", self._repo_url("manifests", reference), accept) as resp:
            self._check(resp, what)
            data = self._read(resp, MAX_MANIFEST_BYTES, what, None)
            return data, resp.headers.get("Content-Type")

    def manifest_digest(self, reference: str) -> str | None:
        """The digest a tag points to, or None when the tag does not exist."""
        reg = self._connect()
        accept = ", ".join((*MANIFEST_TYPES, *INDEX_TYPES))
        resp = self._send(reg, "HEAD", self._repo_url("manifests", reference), {"Accept": accept})
        if resp.status_code == 404:
            return None
        self._check(resp, f"image {self._ref.name}:{reference}")
        digest = resp.headers.get("Docker-Content-Digest")
        return check_digest(digest) if digest else None

    def get_blob(self, digest: str, limit: int, progress: Progress | None = None) -> bytes:
        """The blob ``digest``, at most ``limit`` bytes, checked against its digest."""
        reg = self._connect()
        what = f"blob {digest} of {self._ref.name}"
        with self._stream(reg, "GET", self._repo_url("blobs", check_digest(digest)), None) as resp:
            self._check(resp, what)
            data = self._read(resp, limit, what, progress)
        if sha256_digest(data) != digest:
            raise ImageError(f"{what} does not match its digest: refusing tampered content")
        return data

    @contextmanager
    def _stream(self, reg: Any, method: str, url: str, accept: str | None) -> Iterator[Any]:
        headers = {"Accept": accept} if accept else {}
        resp = self._send(reg, method, url, headers, stream=True)
        try:
            yield resp
        finally:
            resp.close()

    def _read(self, resp: Any, limit: int, what: str, progress: Progress | None) -> bytes:
        """Read the body, refusing before and during transfer anything over ``limit``."""
        declared = int(resp.headers.get("Content-Length") or 0)
        if declared > limit:
            raise ImageError(f"{what} is {declared} bytes, over the {limit}-byte limit")
        chunks, total = [], 0
        try:
            for chunk in resp.iter_content(chunk_size=_CHUNK):
                total += len(chunk)
                if total > limit:
                    raise ImageError(f"{what} is over the {limit}-byte limit")
                chunks.append(chunk)
                if progress is not None:
                    progress(total, declared)
        except OSError as e:
            raise ImageError(f"download of {what} failed: {e}") from None
        return b"".join(chunks)

    def put_blob(self, data: bytes) -> str:
        """Upload ``data`` unless the registry has it; its digest."""
        reg = self._connect()
        digest = sha256_digest(data)
        head = self._send(reg, "HEAD", self._repo_url("blobs", digest), {})
        if head.status_code == 200:
            return digest
        start = self._send(reg, "POST", self._url(f"/v2/{self._ref.repository}/blobs/uploads/"), {})
        self._check(start, f"upload to {self._ref.name}")
        location = start.headers.get("Location", "")
        if not location.startswith("http"):
            location = self._url(location)
        sep = "&" if "?" in location else "?"
        put = self._send(
            reg,
            "PUT",
            f"{location}{sep}digest={digest}",
            {"Content-Type": "application/octet-stream", "Content-Length": str(len(data))},
            data=data,
        )
        self._check(put, f"upload of {digest} to {self._ref.name}")
        return digest

    def put_manifest(self, reference: str, data: bytes, media_type: str) -> str:
        """Upload a manifest or index under ``reference`` (a tag or its digest)."""
        reg = self._connect()
        resp = self._send(
            reg,
            "PUT",
            self._repo_url("manifests", reference),
            {"Content-Type": media_type},
            data=data,
        )
        self._check(resp, f"manifest push to {self._ref.name}:{reference}")
        return sha256_digest(data)
