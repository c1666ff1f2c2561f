"""Cosign-format signatures: signed, unsigned and tampered images under each setting."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from bpfman.errors import ImageError, NotFoundError
from bpfman.images import (
    BytecodeSources,
    ImageSettings,
    ImageStore,
    PullPolicy,
    parse_reference,
)
from bpfman.images.build import build_native
from bpfman.images.oci import OCI_MANIFEST, canonical_json
from bpfman.images.signing import (
    PAYLOAD_TYPE,
    SIGNATURE_ANNOTATION,
    load_private_key,
    sign_image,
    signature_tag,
)
from bpfman.images.transport import RegistryClient
from tests.helpers.registry import Registry, infer_type, write_keypair


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    d = tmp_path_factory.mktemp("keys")
    return {"good": write_keypair(d, "good"), "other": write_keypair(d, "other")}


def _client(reg: Registry, url: str) -> RegistryClient:
    return RegistryClient(parse_reference(url), ImageSettings((reg.host,)), reg.auth)


@pytest.fixture(scope="module")
def images(
    registry: Registry,
    keys: dict[str, tuple[Path, Path]],
    image_objects: dict[str, Path],
) -> dict[str, str]:
    """URL per case: signed, unsigned, tampered signature, other key, signature of another image."""
    xdp, tp = image_objects["xdp"], image_objects["tp"]
    settings = ImageSettings((registry.host,))
    urls = {}
    for case in ("signed", "unsigned", "tampered", "other", "swapped"):
        url = urls[case] = f"{registry.host}/sig/{case}:v1"
        obj = tp if case == "swapped" else xdp
        build_native(BytecodeSources(bytecode=str(obj)), url, settings, infer_type, registry.auth)
    good = load_private_key(str(keys["good"][0]))
    for case in ("signed", "tampered"):
        sign_image(_client(registry, urls[case]), parse_reference(urls[case]), good)
    sign_image(
        _client(registry, urls["other"]),
        parse_reference(urls["other"]),
        load_private_key(str(keys["other"][0])),
    )
    # Tampered: flip the signature in the annotation.
    client = _client(registry, urls["tampered"])
    digest = client.manifest_digest("v1")
    assert digest is not None
    manifest = json.loads(client.get_manifest(signature_tag(digest))[0])
    sig = bytearray(base64.b64decode(manifest["layers"][0]["annotations"][SIGNATURE_ANNOTATION]))
    sig[-1] ^= 0x01
    manifest["layers"][0]["annotations"][SIGNATURE_ANNOTATION] = base64.b64encode(sig).decode()
    client.put_manifest(signature_tag(digest), canonical_json(manifest), OCI_MANIFEST)
    # Swapped: the valid signature of "signed" copied under the signature tag of "swapped".
    signed_client = _client(registry, urls["signed"])
    signed_digest = signed_client.manifest_digest("v1")
    assert signed_digest is not None
    sig_manifest = signed_client.get_manifest(signature_tag(signed_digest))[0]
    swapped = _client(registry, urls["swapped"])
    swapped_digest = swapped.manifest_digest("v1")
    assert swapped_digest is not None
    for layer in json.loads(sig_manifest)["layers"]:
        swapped.put_blob(signed_client.get_blob(layer["digest"], 1 << 20))
    config_digest = json.loads(sig_manifest)["config"]["digest"]
    swapped.put_blob(signed_client.get_blob(config_digest, 1 << 20))
    swapped.put_manifest(signature_tag(swapped_digest), sig_manifest, OCI_MANIFEST)
    return urls


def _store(tmp_path: Path, reg: Registry, public: Path | None, **kw: bool) -> ImageStore:
    settings = ImageSettings((reg.host,), public_key=str(public) if public else None, **kw)
    return ImageStore(tmp_path, settings)


def test_signature_format(registry: Registry, images: dict[str, str]) -> None:
    client = _client(registry, images["signed"])
    digest = client.manifest_digest("v1")
    assert digest is not None
    manifest = json.loads(client.get_manifest(f"sha256-{digest.split(':')[1]}.sig")[0])
    assert manifest["mediaType"] == OCI_MANIFEST
    [layer] = manifest["layers"]
    assert layer["mediaType"] == "application/vnd.dev.cosign.simplesigning.v1+json"
    assert "dev.cosignproject.cosign/signature" in layer["annotations"]
    payload = json.loads(client.get_blob(layer["digest"], 1 << 20))
    assert payload["critical"] == {
        "identity": {"docker-reference": f"{registry.host}/sig/signed"},
        "image": {"docker-manifest-digest": digest},
        "type": "cosign container image signature",
    }
    assert layer["mediaType"] == PAYLOAD_TYPE


def test_signature_verifies_with_plain_cryptography(
    registry: Registry, images: dict[str, str], keys: dict[str, tuple[Path, Path]]
) -> None:
    """The signature is plain ECDSA-P256/SHA-256 over the payload bytes, as cosign's."""
    client = _client(registry, images["signed"])
    digest = client.manifest_digest("v1")
    assert digest is not None
    [layer] = json.loads(client.get_manifest(signature_tag(digest))[0])["layers"]
    payload = client.get_blob(layer["digest"], 1 << 20)
    public = serialization.load_pem_public_key(keys["good"][1].read_bytes())
    assert isinstance(public, ec.EllipticCurvePublicKey)
    public.verify(
        base64.b64decode(layer["annotations"][SIGNATURE_ANNOTATION]),
        payload,
        ec.ECDSA(hashes.SHA256()),
    )


ALL = ("signed", "unsigned", "tampered", "other", "swapped")


@pytest.mark.parametrize("case", ALL)
def test_verification_off_accepts_everything(
    tmp_path: Path, registry: Registry, images: dict[str, str], case: str
) -> None:
    store = _store(tmp_path, registry, None)
    assert store.pull(images[case], PullPolicy.ALWAYS, registry.auth).programs


@pytest.mark.parametrize("allow_unsigned", [True, False])
@pytest.mark.parametrize("case", ALL)
def test_verification_on(
    tmp_path: Path,
    registry: Registry,
    images: dict[str, str],
    keys: dict[str, tuple[Path, Path]],
    case: str,
    allow_unsigned: bool,
) -> None:
    store = _store(
        tmp_path, registry, keys["good"][1], verify_enabled=True, allow_unsigned=allow_unsigned
    )
    url = images[case]
    if case == "signed" or (case == "unsigned" and allow_unsigned):
        pulled = store.pull(url, PullPolicy.ALWAYS, registry.auth)
        assert store.pull(url, PullPolicy.NEVER) == pulled
        return
    message = "is not signed" if case == "unsigned" else "no signature verifies"
    with pytest.raises(ImageError, match=message):
        store.pull(url, PullPolicy.ALWAYS, registry.auth)
    with pytest.raises(NotFoundError):
        store.pull(url, PullPolicy.NEVER)  # a refused image is never stored


def test_cache_from_unverified_pull_is_not_trusted_later(
    tmp_path: Path,
    registry: Registry,
    images: dict[str, str],
    keys: dict[str, tuple[Path, Path]],
) -> None:
    url = images["tampered"]
    _store(tmp_path, registry, None).pull(url, PullPolicy.ALWAYS, registry.auth)
    strict = _store(tmp_path, registry, keys["good"][1], verify_enabled=True)
    with pytest.raises(NotFoundError, match="not verified under the current signing settings"):
        strict.pull(url, PullPolicy.NEVER)
    with pytest.raises(ImageError, match="no signature verifies"):
        strict.pull(url, PullPolicy.IF_NOT_PRESENT, registry.auth)
    signed = images["signed"]
    _store(tmp_path, registry, None).pull(signed, PullPolicy.ALWAYS, registry.auth)
    assert strict.pull(signed, PullPolicy.IF_NOT_PRESENT, registry.auth).programs


def test_verification_needs_a_key(
    tmp_path: Path, registry: Registry, images: dict[str, str]
) -> None:
    store = _store(tmp_path, registry, None, verify_enabled=True)
    with pytest.raises(ImageError, match=r"signing\.public_key is not set"):
        store.pull(images["signed"], PullPolicy.ALWAYS, registry.auth)
    bad = tmp_path / "bad.pub"
    bad.write_text("not a key")
    store = _store(tmp_path, registry, bad, verify_enabled=True)
    with pytest.raises(ImageError, match="is not a PEM public key"):
        store.pull(images["signed"], PullPolicy.ALWAYS, registry.auth)


def test_signing_keeps_earlier_signatures(
    tmp_path: Path,
    registry: Registry,
    keys: dict[str, tuple[Path, Path]],
    image_objects: dict[str, Path],
) -> None:
    url = f"{registry.host}/twice/xdp:v1"
    build_native(
        BytecodeSources(bytecode=str(image_objects["xdp"])),
        url,
        ImageSettings((registry.host,)),
        infer_type,
        registry.auth,
    )
    for name in ("good", "other"):
        sign_image(
            _client(registry, url), parse_reference(url), load_private_key(str(keys[name][0]))
        )
    for name in ("good", "other"):
        store = _store(
            tmp_path / name, registry, keys[name][1], verify_enabled=True, allow_unsigned=False
        )
        assert store.pull(url, PullPolicy.ALWAYS, registry.auth).programs


def test_cached_verdict_does_not_survive_a_key_change(
    tmp_path: Path,
    registry: Registry,
    images: dict[str, str],
    keys: dict[str, tuple[Path, Path]],
) -> None:
    url = images["signed"]
    good = _store(tmp_path, registry, keys["good"][1], verify_enabled=True)
    good.pull(url, PullPolicy.ALWAYS, registry.auth)
    assert good.pull(url, PullPolicy.NEVER).programs
    other = _store(tmp_path, registry, keys["other"][1], verify_enabled=True)
    with pytest.raises(NotFoundError, match="not verified under the current signing settings"):
        other.pull(url, PullPolicy.NEVER)
    with pytest.raises(ImageError, match="no signature verifies"):
        other.pull(url, PullPolicy.IF_NOT_PRESENT, registry.auth)
