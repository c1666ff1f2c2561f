"""What an image holds and who signed it, asked of its registry without pulling it.

``image inspect`` reads the manifest and config (a few kilobytes, never the
bytecode layer) and stores nothing; ``image verify`` runs the signature check a
pull would run, on its own.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from bpfman.images.labels import read_labels
from bpfman.images.oci import INDEX_TYPES, MAX_MANIFEST_BYTES, parse_json, sha256_digest
from bpfman.images.reference import parse_reference
from bpfman.images.settings import ImageSettings
from bpfman.images.signing import verify_image
from bpfman.images.store import blob_digests, fetch_top, host_manifest
from bpfman.images.transport import RegistryClient
from bpfman.images.verdict import SignatureState


@dataclass(frozen=True)
class Inspection:
    """An image as its registry describes it.

    :param digest: what the reference resolves to (an index for a multi-arch image).
    :param platforms: an index's entries (``linux/arm64``...); empty for one image.
    :param manifest_digest: the manifest described: this host's entry of an index.
    :param labels: every label of the image config (``io.ebpf.*`` and any other).
    :param layers: the manifest's layers: digest, media type and size.
    """

    reference: str
    digest: str
    media_type: str
    platforms: list[str]
    manifest_digest: str
    programs: dict[str, str]
    maps: dict[str, str]
    labels: dict[str, str]
    layers: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def inspect_image(url: str, settings: ImageSettings, auth: str | None) -> Inspection:
    """Describe ``url`` from its manifest and config; a non-bytecode image is an error."""
    ref = parse_reference(url)
    client = RegistryClient(ref, settings, auth)
    top = fetch_top(client, ref, url)
    manifest = host_manifest(client, top, url)
    manifest_obj = parse_json(manifest, f"manifest of {url}")
    config_digest, _ = blob_digests(manifest_obj, url)
    config = parse_json(client.get_blob(config_digest, MAX_MANIFEST_BYTES), f"config of {url}")
    labels = read_labels(config, url)
    inner = config.get("config")
    every = inner.get("Labels") if isinstance(inner, dict) else None
    return Inspection(
        reference=str(ref),
        digest=top.digest,
        media_type=top.media_type,
        platforms=_platforms(top.manifest) if top.media_type in INDEX_TYPES else [],
        manifest_digest=sha256_digest(manifest),
        programs=labels.programs,
        maps=labels.maps,
        labels={str(k): str(v) for k, v in every.items()} if isinstance(every, dict) else {},
        layers=[
            {"digest": layer.get("digest"), "media_type": layer.get("mediaType"),
             "size": layer.get("size")}
            for layer in manifest_obj.get("layers") or []
            if isinstance(layer, dict)
        ],
    )  # fmt: skip


def _platforms(index: dict[str, Any]) -> list[str]:
    found = []
    for entry in index.get("manifests") or []:
        platform = entry.get("platform") if isinstance(entry, dict) else None
        if isinstance(platform, dict) and platform.get("os") != "unknown":
            found.append(f"{platform.get('os')}/{platform.get('architecture')}")
    return found


def check_signature(
    url: str, settings: ImageSettings, auth: str | None
) -> tuple[str, SignatureState]:
    """The digest ``url`` resolves to and its signature's verdict, checked as a pull with
    ``signing.verify_enabled`` would check it; a refusal raises :class:`ImageError`."""
    ref = parse_reference(url)
    client = RegistryClient(ref, settings, auth)
    top = fetch_top(client, ref, url)
    return top.digest, verify_image(client, ref, top.digest, replace(settings, verify_enabled=True))
