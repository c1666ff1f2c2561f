"""Cosign key-pair signatures: the ``sha256-<hex>.sig`` tag format.

A signature is an OCI manifest tagged ``sha256-<hex>.sig`` next to the image
whose layers are simple-signing payloads (JSON naming the image digest), each
with its base64 signature in the ``dev.cosignproject.cosign/signature``
annotation. Verification runs only while pulling an image, so nothing here
can affect loading a local file.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from bpfman.errors import ImageError, InvalidInputError, NotFoundError
from bpfman.images.oci import (
    OCI_CONFIG,
    OCI_MANIFEST,
    canonical_json,
    descriptor,
    parse_json,
)
from bpfman.images.reference import ImageRef
from bpfman.images.settings import ImageSettings
from bpfman.images.transport import RegistryClient
from bpfman.images.verdict import SignatureState

PAYLOAD_TYPE = "application/vnd.dev.cosign.simplesigning.v1+json"
SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
_SIGNATURE_KIND = "cosign container image signature"
_MAX_PAYLOAD = 1 << 20


def signature_tag(digest: str) -> str:
    """The tag cosign stores the signatures of ``digest`` under."""
    return digest.replace(":", "-") + ".sig"


def make_payload(ref: ImageRef, digest: str) -> bytes:
    """The simple-signing payload that is signed for ``digest``."""
    payload = {
        "critical": {
            "identity": {"docker-reference": ref.name},
            "image": {"docker-manifest-digest": digest},
            "type": _SIGNATURE_KIND,
        },
        "optional": None,
    }
    return json.dumps(payload, separators=(",", ":")).encode()


def verify_image(
    client: RegistryClient, ref: ImageRef, digest: str, settings: ImageSettings
) -> SignatureState:
    """Check the signatures of ``digest`` as ``settings`` ask; a bad one is an error.

    An image with a signature that does not verify is refused even when
    unsigned images are allowed: that is what tampering looks like.
    """
    if not settings.verify_enabled:
        return SignatureState.UNCHECKED
    key = _load_public_key(settings.public_key)
    try:
        manifest_bytes, _ = client.get_manifest(signature_tag(digest))
    except NotFoundError:
        if settings.allow_unsigned:
            return SignatureState.UNSIGNED
        raise ImageError(f"image {ref} is not signed and signing.allow_unsigned is false") from None
    manifest = parse_json(manifest_bytes, f"signature manifest of {ref}")
    for layer in manifest.get("layers") or []:
        if isinstance(layer, dict) and _layer_verifies(client, layer, key, digest):
            return SignatureState.VERIFIED
    raise ImageError(
        f"image {ref}: no signature verifies against signing.public_key"
        " (the image or its signature was tampered with, or signed with another key)"
    )


def _layer_verifies(client: RegistryClient, layer: dict[str, Any], key: Any, digest: str) -> bool:
    encoded = (layer.get("annotations") or {}).get(SIGNATURE_ANNOTATION)
    if layer.get("mediaType") != PAYLOAD_TYPE or not isinstance(encoded, str):
        return False
    try:
        signature = base64.b64decode(encoded, validate=True)
    except binascii.Error:
        return False
    payload = client.get_blob(str(layer.get("digest")), _MAX_PAYLOAD)
    if not _signature_ok(key, signature, payload):
        return False
    try:
        critical = json.loads(payload)["critical"]
        return bool(
            critical["type"] == _SIGNATURE_KIND
            and critical["image"]["docker-manifest-digest"] == digest
        )
    except (ValueError, KeyError, TypeError):
        return False


def _signature_ok(key: Any, signature: bytes, payload: bytes) -> bool:
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, payload, ec.ECDSA(hashes.SHA256()))
        elif isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, payload, padding.PKCS1v15(), hashes.SHA256())
        elif isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, payload)
        else:
            return False
    except InvalidSignature:
        return False
    return True


def _load_public_key(path: str | None) -> Any:
    if not path:
        raise ImageError(
            "signature verification is enabled but signing.public_key is not set in the config"
        )
    try:
        return serialization.load_pem_public_key(Path(path).read_bytes())
    except OSError as e:
        raise ImageError(f"cannot read signing public key {path}: {e.strerror}") from None
    except (ValueError, UnsupportedAlgorithm):
        raise ImageError(f"signing public key {path} is not a PEM public key") from None


def load_private_key(path: str) -> Any:
    """A PEM private key (PKCS#8 or SEC1); ``COSIGN_PASSWORD`` decrypts an encrypted one."""
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise NotFoundError(f"cannot read signing key {path}: {e.strerror}") from None
    if b"SIGSTORE PRIVATE KEY" in data:
        raise InvalidInputError(
            f"{path} is a cosign-encrypted key, which bpfman cannot decrypt;"
            " use a PEM key (openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256)"
        )
    password = os.environ.get("COSIGN_PASSWORD")
    try:
        return serialization.load_pem_private_key(data, password.encode() if password else None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as e:
        raise InvalidInputError(f"{path} is not a usable PEM private key: {e}") from None


def _sign(key: Any, payload: bytes) -> bytes:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return bytes(key.sign(payload, ec.ECDSA(hashes.SHA256())))
    if isinstance(key, rsa.RSAPrivateKey):
        return bytes(key.sign(payload, padding.PKCS1v15(), hashes.SHA256()))
    if isinstance(key, ed25519.Ed25519PrivateKey):
        return bytes(key.sign(payload))
    raise InvalidInputError("signing key must be ECDSA, RSA or Ed25519")


def sign_image(client: RegistryClient, ref: ImageRef, key: Any) -> str:
    """Sign the image ``ref`` points to and push the signature; the signed digest.

    Signatures already under the tag are kept, as cosign does.
    """
    digest = ref.digest or client.manifest_digest(ref.reference)
    if digest is None:
        raise NotFoundError(f"image {ref} not found in registry {ref.registry}")
    payload = make_payload(ref, digest)
    signature = base64.b64encode(_sign(key, payload)).decode()
    layers: list[dict[str, Any]] = []
    try:
        old, _ = client.get_manifest(signature_tag(digest))
        layers = [
            layer
            for layer in parse_json(old, "signature manifest").get("layers") or []
            if isinstance(layer, dict) and layer.get("mediaType") == PAYLOAD_TYPE
        ]
    except NotFoundError:
        pass
    client.put_blob(payload)
    layers.append(descriptor(PAYLOAD_TYPE, payload, annotations={SIGNATURE_ANNOTATION: signature}))
    config = canonical_json(
        {
            "architecture": "",
            "os": "",
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": [layer["digest"] for layer in layers]},
        }
    )
    client.put_blob(config)
    manifest = canonical_json(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": descriptor(OCI_CONFIG, config),
            "layers": layers,
        }
    )
    client.put_manifest(signature_tag(digest), manifest, OCI_MANIFEST)
    return digest
