"""Pulling bytecode images into the local store and reading them back."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from bpfman.errors import ImageError, InvalidInputError, NotFoundError
from bpfman.images.blobs import BlobStore
from bpfman.images.credentials import decode_auth
from bpfman.images.elf import check_bytecode
from bpfman.images.labels import read_labels
from bpfman.images.layer import extract_object
from bpfman.images.oci import (
    INDEX_TYPES,
    LAYER_TYPES,
    MANIFEST_TYPES,
    MAX_MANIFEST_BYTES,
    check_digest,
    host_goarch,
    media_type_of,
    parse_json,
    pick_platform,
    sha256_digest,
)
from bpfman.images.reference import ImageRef, parse_reference
from bpfman.images.settings import ImageSettings, PullPolicy
from bpfman.images.verdict import SignatureState, key_id

if TYPE_CHECKING:
    from bpfman.images.transport import Progress, RegistryClient


@dataclass(frozen=True)
class Bytecode:
    """A pulled image's bytecode and what its labels say it holds.

    ``digest`` is the digest the reference resolved to (the index for a
    multi-arch image), i.e. what a user would pin with ``@sha256:``.
    """

    url: str
    digest: str
    data: bytes = field(repr=False)
    programs: dict[str, str]
    maps: dict[str, str]

    def require(self, functions: Iterable[str]) -> None:
        """Fail, listing what the image has, if any of ``functions`` is not in it."""
        missing = [f for f in functions if f not in self.programs]
        if missing:
            have = ", ".join(sorted(self.programs)) or "none"
            raise NotFoundError(
                f"image {self.url} has no function {', '.join(missing)} (it has: {have})"
            )

    def function_for(self, type_name: str, labels: Collection[str]) -> str:
        """The function to load as a ``type_name`` program when the request names none.

        It is the image's one program whose ``io.ebpf.programs`` label is one of
        ``labels`` (the type's name, and what the type's other sections are
        labelled: ``kretprobe`` for a kprobe): several are ambiguous, none is an error.
        """
        found = sorted(name for name, label in self.programs.items() if label in labels)
        if len(found) == 1:
            return found[0]
        if not found:
            have = ", ".join(f"{n} ({t})" for n, t in sorted(self.programs.items())) or "none"
            raise NotFoundError(f"image {self.url} has no {type_name} program (it has: {have})")
        raise InvalidInputError(
            f"image {self.url} has several {type_name} programs ({', '.join(found)}):"
            " name the function to load"
        )


@dataclass(frozen=True)
class _Pulled:
    """The blobs of one image, verified, before they are stored."""

    top: bytes
    manifest: bytes
    config: bytes
    layer: bytes


class ImageStore:
    """Bytecode images under ``path`` (the root's ``images/``), content-addressed and
    verified on use."""

    def __init__(self, path: Path, settings: ImageSettings) -> None:
        self.settings = settings
        self.blobs = BlobStore(path)

    def pull(
        self,
        url: str,
        policy: PullPolicy = PullPolicy.IF_NOT_PRESENT,
        auth: str | None = None,
        *,
        progress: Progress | None = None,
    ) -> Bytecode:
        """The bytecode of ``url``, from the store or the registry as ``policy`` allows.

        ``auth`` (base64 ``user:password``) is used for this pull only and is
        never stored. ``progress(done, total)`` is called while the layer downloads.
        """
        if auth is not None:
            decode_auth(auth)  # a malformed value is refused even when it would go unused
        ref = parse_reference(url)
        key = str(ref)
        if policy is not PullPolicy.ALWAYS:
            record = self.blobs.get_ref(key)
            if record is not None and self._record_usable(record):
                return self._from_store(url, record)
            if policy is PullPolicy.NEVER:
                why = "is not in the local image store"
                if record is not None:
                    why = "was not verified under the current signing settings"
                raise NotFoundError(
                    f"image {url} {why} and the pull policy is Never; pull it first"
                    " (bpfman image pull)"
                )
        return self._fetch(url, ref, auth, progress)

    def _record_usable(self, record: dict[str, Any]) -> bool:
        """Whether a stored image passes today's signature settings without a new check."""
        if not self.settings.verify_enabled:
            return True
        state = record.get("signature")
        if state == SignatureState.VERIFIED.value:
            return record.get("key") == key_id(self.settings)
        return state == SignatureState.UNSIGNED.value and self.settings.allow_unsigned

    def _from_store(self, url: str, record: dict[str, Any]) -> Bytecode:
        top_digest = check_digest(record.get("digest", ""))
        manifest_digest = check_digest(record.get("manifest", ""))
        self.blobs.get(top_digest)
        manifest = self.blobs.get(manifest_digest)
        config_digest, layer_digest = blob_digests(parse_json(manifest, "stored manifest"), url)
        pulled = _Pulled(b"", manifest, self.blobs.get(config_digest), self.blobs.get(layer_digest))
        return self._bytecode(url, top_digest, pulled)

    def _fetch(
        self, url: str, ref: ImageRef, auth: str | None, progress: Progress | None
    ) -> Bytecode:
        # The registry and crypto stacks load only when the network is used.
        from bpfman.images.signing import verify_image
        from bpfman.images.transport import RegistryClient

        client = RegistryClient(ref, self.settings, auth)
        top = fetch_top(client, ref, url)
        state = verify_image(client, ref, top.digest, self.settings)
        manifest = host_manifest(client, top, url)
        manifest_obj = parse_json(manifest, f"manifest of {url}")
        config_digest, layer_digest = blob_digests(manifest_obj, url)
        layer_size = manifest_obj["layers"][0].get("size", 0)
        limit = self.settings.max_layer_bytes
        if not isinstance(layer_size, int) or layer_size > limit:
            raise ImageError(
                f"image {url}: bytecode layer is {layer_size} bytes, over the {limit}-byte"
                " limit (images.max_layer_bytes)"
            )
        pulled = _Pulled(
            top.data,
            manifest,
            client.get_blob(config_digest, MAX_MANIFEST_BYTES),
            client.get_blob(layer_digest, limit, progress),
        )
        bytecode = self._bytecode(url, top.digest, pulled)
        for blob in (pulled.top, pulled.manifest, pulled.config, pulled.layer):
            self.blobs.put(blob)
        self.blobs.put_ref(
            str(ref),
            {
                "digest": top.digest,
                "manifest": sha256_digest(manifest),
                "signature": state.value,
                "key": key_id(self.settings) if state is SignatureState.VERIFIED else None,
            },
        )
        return bytecode

    def _bytecode(self, url: str, digest: str, pulled: _Pulled) -> Bytecode:
        """Unpack and check; runs before anything is stored, so bad images never are."""
        labels = read_labels(parse_json(pulled.config, f"config of {url}"), url)
        data = extract_object(pulled.layer, url, self.settings.max_layer_bytes, labels.filename)
        check_bytecode(data, f"image {url}")
        return Bytecode(url, digest, data, labels.programs, labels.maps)


class Top(NamedTuple):
    """What an image reference resolves to: a manifest, or an index of them."""

    data: bytes
    digest: str
    media_type: str
    manifest: dict[str, Any]


def fetch_top(client: RegistryClient, ref: ImageRef, url: str) -> Top:
    """The manifest or index ``ref`` names, checked against a digest the reference pins."""
    data, content_type = client.get_manifest(ref.reference)
    digest = sha256_digest(data)
    if ref.digest and digest != ref.digest:
        raise ImageError(f"image {url}: registry served content that does not match its digest")
    parsed = parse_json(data, f"manifest of {url}")
    return Top(data, digest, media_type_of(parsed, content_type), parsed)


def host_manifest(client: RegistryClient, top: Top, url: str) -> bytes:
    """The image manifest for this host: ``top`` itself, or its index's entry for the host."""
    if top.media_type in INDEX_TYPES:
        entry = pick_platform(top.manifest, url, host_goarch())
        entry_digest = check_digest(entry.get("digest", ""))
        manifest, _ = client.get_manifest(entry_digest)
        if sha256_digest(manifest) != entry_digest:
            raise ImageError(f"image {url}: manifest does not match its digest in the index")
        return manifest
    if top.media_type in MANIFEST_TYPES:
        return top.data
    raise ImageError(f"image {url}: unsupported manifest type {top.media_type}")


def blob_digests(manifest: dict[str, Any], url: str) -> tuple[str, str]:
    """The config and first-layer digests of an image manifest."""
    config, layers = manifest.get("config"), manifest.get("layers")
    if not isinstance(config, dict) or not isinstance(layers, list) or not layers:
        raise ImageError(f"image {url}: manifest has no config or no layers")
    layer = layers[0]
    if not isinstance(layer, dict) or layer.get("mediaType") not in LAYER_TYPES:
        kind = layer.get("mediaType") if isinstance(layer, dict) else None
        raise ImageError(f"image {url}: first layer has unsupported media type {kind}")
    return check_digest(config.get("digest", "")), check_digest(layer.get("digest", ""))
