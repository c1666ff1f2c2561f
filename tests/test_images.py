"""Pulling bytecode images from a real registry (docker-registry on loopback, basic auth).

Images are built and pushed by the native builder, or assembled by hand when
a test needs a malformed or legacy image; both go through the same registry.
"""

from __future__ import annotations

import base64
import gzip
import io
import json
import os
import tarfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bpfman.errors import (
    ImageError,
    InvalidInputError,
    NotFoundError,
    RegistryAuthError,
    RegistryUnreachableError,
)
from bpfman.images import (
    BytecodeSources,
    ImageSettings,
    ImageStore,
    PullPolicy,
    parse_reference,
)
from bpfman.images.build import build_native
from bpfman.images.credentials import encode_auth
from bpfman.images.layer import build_layer
from bpfman.images.oci import (
    DOCKER_CONFIG,
    DOCKER_LAYER_GZIP,
    DOCKER_MANIFEST,
    OCI_CONFIG,
    OCI_LAYER_GZIP,
    OCI_MANIFEST,
    canonical_json,
    descriptor,
)
from bpfman.images.transport import RegistryClient
from tests.helpers.registry import (
    Registry,
    infer_type,
    running_registry,
)


@pytest.fixture
def settings(registry: Registry) -> ImageSettings:
    return ImageSettings(insecure_registries=(registry.host,))


@pytest.fixture
def store(tmp_path: Path, settings: ImageSettings) -> ImageStore:
    return ImageStore(tmp_path / "root", settings)


def push(reg: Registry, name: str, sources: BytecodeSources) -> str:
    """Build natively and push ``name``; its URL and digest."""
    settings = ImageSettings(insecure_registries=(reg.host,))
    return build_native(sources, f"{reg.host}/{name}", settings, infer_type, auth=reg.auth)


def push_raw(
    reg: Registry,
    name: str,
    labels: dict[str, str],
    layer: bytes,
    docker_types: bool = False,
) -> str:
    """Push a hand-assembled single-arch image; its digest."""
    ref = parse_reference(f"{reg.host}/{name}")
    client = RegistryClient(ref, ImageSettings(insecure_registries=(reg.host,)), reg.auth)
    config = canonical_json(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Labels": labels},
            "rootfs": {"type": "layers", "diff_ids": []},
        }
    )
    client.put_blob(config)
    client.put_blob(layer)
    manifest_type = DOCKER_MANIFEST if docker_types else OCI_MANIFEST
    manifest = canonical_json(
        {
            "schemaVersion": 2,
            "mediaType": manifest_type,
            "config": descriptor(DOCKER_CONFIG if docker_types else OCI_CONFIG, config),
            "layers": [descriptor(DOCKER_LAYER_GZIP if docker_types else OCI_LAYER_GZIP, layer)],
        }
    )
    return client.put_manifest(ref.reference, manifest, manifest_type)


def fetch(reg: Registry, path: str, accept: str = OCI_MANIFEST) -> tuple[bytes, Any]:
    """GET from the registry with plain urllib, independent of bpfman."""
    request = urllib.request.Request(f"http://{reg.host}{path}")
    request.add_header("Authorization", f"Basic {reg.auth}")
    request.add_header("Accept", accept)
    with urllib.request.urlopen(request, timeout=10) as resp:
        return resp.read(), resp.headers


CURRENT_LABELS = {"io.ebpf.programs": '{"xdp_stats":"xdp"}', "io.ebpf.maps": "{}"}


def test_native_build_has_reference_format(
    registry: Registry, image_objects: dict[str, Path]
) -> None:
    digest = push(registry, "fmt/xdp:v1", BytecodeSources(bytecode=str(image_objects["xdp"])))
    raw, headers = fetch(registry, "/v2/fmt/xdp/manifests/v1")
    assert headers["Docker-Content-Digest"] == digest
    manifest = json.loads(raw)
    assert manifest["mediaType"] == OCI_MANIFEST
    assert manifest["config"]["mediaType"] == OCI_CONFIG
    [layer_desc] = manifest["layers"]
    assert layer_desc["mediaType"] == OCI_LAYER_GZIP
    config = json.loads(fetch(registry, f"/v2/fmt/xdp/blobs/{manifest['config']['digest']}")[0])
    assert (config["os"], config["architecture"]) == ("linux", "amd64")
    assert config["config"]["Labels"] == {
        "io.ebpf.programs": '{"xdp_stats":"xdp","stats":"tc"}',
        "io.ebpf.maps": '{"xdp_stats_map":"per_cpu_array"}',
    }
    layer = fetch(registry, f"/v2/fmt/xdp/blobs/{layer_desc['digest']}")[0]
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(layer))) as tar:
        [member] = tar.getmembers()
        assert member.name == "xdp.bpf.o" and member.isfile()
        handle = tar.extractfile(member)
        assert handle is not None and handle.read() == image_objects["xdp"].read_bytes()


def test_pull_and_cache(
    registry: Registry, image_objects: dict[str, Path], store: ImageStore
) -> None:
    url = f"{registry.host}/pull/xdp:v1"
    digest = push(registry, "pull/xdp:v1", BytecodeSources(bytecode=str(image_objects["xdp"])))
    bytecode = store.pull(url, PullPolicy.IF_NOT_PRESENT, registry.auth)
    assert (bytecode.url, bytecode.digest) == (url, digest)
    assert bytecode.data == image_objects["xdp"].read_bytes()
    assert bytecode.programs == {"xdp_stats": "xdp", "stats": "tc"}
    assert bytecode.maps == {"xdp_stats_map": "per_cpu_array"}
    cached = store.pull(url, PullPolicy.NEVER)
    assert cached == bytecode
    by_digest = store.pull(f"{registry.host}/pull/xdp@{digest}", PullPolicy.ALWAYS, registry.auth)
    assert by_digest.data == bytecode.data
    blob = store.blobs.blob_path(digest)
    assert blob.is_file() and blob.parent.parent.parent == store.blobs.root


def test_credentials_never_written(
    registry: Registry, image_objects: dict[str, Path], store: ImageStore
) -> None:
    push(registry, "creds/xdp:v1", BytecodeSources(bytecode=str(image_objects["xdp"])))
    store.pull(f"{registry.host}/creds/xdp:v1", PullPolicy.ALWAYS, registry.auth)
    for dirpath, _, files in os.walk(store.blobs.root):
        for name in files:
            content = Path(dirpath, name).read_bytes()
            assert registry.password.encode() not in content
            assert registry.auth.encode() not in content


def test_never_with_empty_cache(registry: Registry, store: ImageStore) -> None:
    with pytest.raises(
        NotFoundError, match="not in the local image store and the pull policy is Never"
    ):
        store.pull(f"{registry.host}/pull/xdp:v1", PullPolicy.NEVER)


def test_if_not_present_stays_offline_and_always_does_not(
    tmp_path: Path, image_objects: dict[str, Path]
) -> None:
    with running_registry(tmp_path / "reg") as reg:
        push(reg, "offline/xdp:v1", BytecodeSources(bytecode=str(image_objects["xdp"])))
        store = ImageStore(tmp_path / "root", ImageSettings(insecure_registries=(reg.host,)))
        url = f"{reg.host}/offline/xdp:v1"
        pulled = store.pull(url, PullPolicy.IF_NOT_PRESENT, reg.auth)
    # The registry process is gone now.
    assert store.pull(url, PullPolicy.IF_NOT_PRESENT) == pulled
    assert store.pull(url, PullPolicy.NEVER) == pulled
    with pytest.raises(RegistryUnreachableError, match=f"cannot reach registry {reg.host}"):
        store.pull(url, PullPolicy.ALWAYS, reg.auth)


def test_always_sees_a_moved_tag(
    registry: Registry, image_objects: dict[str, Path], store: ImageStore
) -> None:
    url = f"{registry.host}/moving/prog:latest"
    first = push(
        registry, "moving/prog:latest", BytecodeSources(bytecode=str(image_objects["xdp"]))
    )
    assert store.pull(url, auth=registry.auth).digest == first
    second = push(
        registry, "moving/prog:latest", BytecodeSources(bytecode=str(image_objects["tp"]))
    )
    assert second != first
    assert store.pull(url, PullPolicy.IF_NOT_PRESENT).digest == first
    fresh = store.pull(url, PullPolicy.ALWAYS, registry.auth)
    assert fresh.digest == second and fresh.data == image_objects["tp"].read_bytes()
    assert store.pull(url, PullPolicy.NEVER).digest == second


def test_wrong_or_missing_credentials(
    registry: Registry, image_objects: dict[str, Path], store: ImageStore
) -> None:
    push(registry, "auth/xdp:v1", BytecodeSources(bytecode=str(image_objects["xdp"])))
    url = f"{registry.host}/auth/xdp:v1"
    with pytest.raises(
        RegistryAuthError, match=r"unauthorized: registry .* refused the credentials"
    ):
        store.pull(url, PullPolicy.ALWAYS, encode_auth(registry.user, "wrong"))
    with pytest.raises(RegistryAuthError, match=r"unauthorized: .* requires credentials"):
        store.pull(url, PullPolicy.ALWAYS)
    with pytest.raises(InvalidInputError, match="base64"):
        store.pull(url, PullPolicy.ALWAYS, "***")
    with pytest.raises(NotFoundError, match="not in the local image store"):
        store.pull(url, PullPolicy.NEVER)  # nothing was stored by the failed pulls


def test_missing_image(registry: Registry, store: ImageStore) -> None:
    with pytest.raises(NotFoundError, match=r"image .*/nope/nothing:v1 not found in registry"):
        store.pull(f"{registry.host}/nope/nothing:v1", PullPolicy.ALWAYS, registry.auth)


def test_plain_http_only_when_listed(
    registry: Registry, image_objects: dict[str, Path], tmp_path: Path
) -> None:
    push(registry, "tls/xdp:v1", BytecodeSources(bytecode=str(image_objects["xdp"])))
    store = ImageStore(tmp_path, ImageSettings())
    with pytest.raises(RegistryUnreachableError, match=r"over HTTPS .*insecure_registries"):
        store.pull(f"{registry.host}/tls/xdp:v1", PullPolicy.ALWAYS, registry.auth)


def test_multi_arch_index_picks_host(
    registry: Registry, image_objects: dict[str, Path], store: ImageStore
) -> None:
    sources = BytecodeSources(
        per_arch=(("arm64", str(image_objects["tp"])), ("amd64", str(image_objects["xdp"])))
    )
    digest = push(registry, "multi/prog:v1", sources)
    index = json.loads(
        fetch(registry, "/v2/multi/prog/manifests/v1", "application/vnd.oci.image.index.v1+json")[0]
    )
    platforms = [m["platform"]["architecture"] for m in index["manifests"]]
    assert platforms == ["amd64", "arm64"]
    bytecode = store.pull(f"{registry.host}/multi/prog:v1", auth=registry.auth)
    assert bytecode.digest == digest
    assert bytecode.data == image_objects["xdp"].read_bytes()


def test_multi_arch_index_without_host(
    registry: Registry, image_objects: dict[str, Path], store: ImageStore
) -> None:
    push(
        registry,
        "multi/armonly:v1",
        BytecodeSources(per_arch=(("arm64", str(image_objects["xdp"])),)),
    )
    with pytest.raises(ImageError, match=r"has no linux/amd64 bytecode \(it has: linux/arm64\)"):
        store.pull(f"{registry.host}/multi/armonly:v1", auth=registry.auth)


def test_v1_labels_docker_media_types(
    registry: Registry, image_objects: dict[str, Path], store: ImageStore
) -> None:
    labels = {
        "io.ebpf.program_name": "xdp_stats",
        "io.ebpf.bpf_function_name": "xdp_stats",
        "io.ebpf.program_type": "xdp",
        "io.ebpf.filename": "xdp.bpf.o",
    }
    layer, _ = build_layer("xdp.bpf.o", image_objects["xdp"].read_bytes())
    push_raw(registry, "legacy/xdp:v1", labels, layer, docker_types=True)
    bytecode = store.pull(f"{registry.host}/legacy/xdp:v1", auth=registry.auth)
    assert bytecode.programs == {"xdp_stats": "xdp"} and bytecode.maps == {}
    assert bytecode.data == image_objects["xdp"].read_bytes()


def test_missing_function_lists_what_the_image_has(
    registry: Registry, image_objects: dict[str, Path], store: ImageStore
) -> None:
    push(registry, "funcs/xdp:v1", BytecodeSources(bytecode=str(image_objects["xdp"])))
    bytecode = store.pull(f"{registry.host}/funcs/xdp:v1", auth=registry.auth)
    bytecode.require(["xdp_stats"])
    with pytest.raises(NotFoundError, match=r"has no function nope \(it has: stats, xdp_stats\)"):
        bytecode.require(["xdp_stats", "nope"])


def test_corrupted_cached_blob(
    registry: Registry, image_objects: dict[str, Path], store: ImageStore
) -> None:
    url = f"{registry.host}/corrupt/xdp:v1"
    push(registry, "corrupt/xdp:v1", BytecodeSources(bytecode=str(image_objects["xdp"])))
    store.pull(url, auth=registry.auth)
    layer_digest = json.loads(fetch(registry, "/v2/corrupt/xdp/manifests/v1")[0])["layers"][0][
        "digest"
    ]
    blob = store.blobs.blob_path(layer_digest)
    data = bytearray(blob.read_bytes())
    data[len(data) // 2] ^= 0xFF
    blob.write_bytes(bytes(data))
    for policy in (PullPolicy.IF_NOT_PRESENT, PullPolicy.NEVER):
        with pytest.raises(ImageError, match=f"blob {layer_digest} is corrupted"):
            store.pull(url, policy)
    repaired = store.pull(url, PullPolicy.ALWAYS, registry.auth)
    assert repaired.data == image_objects["xdp"].read_bytes()
    assert store.pull(url, PullPolicy.NEVER) == repaired


def _tar_gz(info: tarfile.TarInfo, payload: bytes = b"") -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        info.size = len(payload)
        tar.addfile(info, io.BytesIO(payload) if payload else None)
    return gzip.compress(raw.getvalue())


@pytest.mark.parametrize(
    ("name", "kind", "message"),
    [
        ("../../../tmp/evil.o", tarfile.REGTYPE, "path traversal"),
        ("xdp.o", tarfile.SYMTYPE, "is a link"),
    ],
)
def test_unsafe_layer_refused_and_not_stored(
    registry: Registry,
    image_objects: dict[str, Path],
    store: ImageStore,
    name: str,
    kind: bytes,
    message: str,
) -> None:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = "/etc/passwd" if kind == tarfile.SYMTYPE else ""
    payload = image_objects["xdp"].read_bytes() if kind == tarfile.REGTYPE else b""
    tag = "symlink" if kind == tarfile.SYMTYPE else "traversal"
    push_raw(registry, f"unsafe/layer:{tag}", CURRENT_LABELS, _tar_gz(info, payload))
    url = f"{registry.host}/unsafe/layer:{tag}"
    with pytest.raises(ImageError, match=message):
        store.pull(url, auth=registry.auth)
    with pytest.raises(NotFoundError):
        store.pull(url, PullPolicy.NEVER)
    assert not Path("/tmp/evil.o").exists()


def test_oversized_layer_refused_before_download(
    registry: Registry, store: ImageStore, tmp_path: Path
) -> None:
    big = os.urandom(64 << 10)  # incompressible
    push_raw(registry, "big/layer:v1", CURRENT_LABELS, big)
    small = ImageStore(
        tmp_path / "small", ImageSettings((registry.host,), max_layer_bytes=16 << 10)
    )
    with pytest.raises(
        ImageError, match=r"65536 bytes, over the 16384-byte limit \(images.max_layer_bytes\)"
    ):
        small.pull(f"{registry.host}/big/layer:v1", auth=registry.auth)


def test_gzip_bomb_refused(registry: Registry, tmp_path: Path) -> None:
    info = tarfile.TarInfo("bomb.o")
    bomb = _tar_gz(info, b"\0" * (8 << 20))
    assert len(bomb) < 64 << 10
    push_raw(registry, "big/bomb:v1", CURRENT_LABELS, bomb)
    small = ImageStore(tmp_path, ImageSettings((registry.host,), max_layer_bytes=1 << 20))
    with pytest.raises(ImageError, match="unpacked bytecode layer is over the 1048576-byte limit"):
        small.pull(f"{registry.host}/big/bomb:v1", auth=registry.auth)


def test_wrong_endianness_refused(
    registry: Registry, image_objects: dict[str, Path], store: ImageStore
) -> None:
    layer, _ = build_layer("be.bpf.o", image_objects["be"].read_bytes())
    push_raw(registry, "endian/be:v1", CURRENT_LABELS, layer)
    with pytest.raises(ImageError, match="big-endian but this host is little-endian"):
        store.pull(f"{registry.host}/endian/be:v1", auth=registry.auth)


def test_not_a_bytecode_image(
    registry: Registry, image_objects: dict[str, Path], store: ImageStore
) -> None:
    layer, _ = build_layer("xdp.bpf.o", image_objects["xdp"].read_bytes())
    push_raw(registry, "plain/image:v1", {"maintainer": "someone"}, layer)
    with pytest.raises(ImageError, match="not a bytecode image"):
        store.pull(f"{registry.host}/plain/image:v1", auth=registry.auth)


def test_registry_auth_is_docker_config_format(registry: Registry) -> None:
    assert base64.b64decode(registry.auth).decode() == f"{registry.user}:{registry.password}"


@pytest.fixture(scope="module")
def token_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    with running_registry(tmp_path_factory.mktemp("token-registry"), token_auth=True) as reg:
        yield reg


def test_bearer_token_registry(
    token_registry: Registry, image_objects: dict[str, Path], tmp_path: Path
) -> None:
    """A registry that answers with Bearer challenges, as public registries do."""
    reg = token_registry
    url = f"{reg.host}/token/xdp:v1"
    digest = push(reg, "token/xdp:v1", BytecodeSources(bytecode=str(image_objects["xdp"])))
    store = ImageStore(tmp_path, ImageSettings((reg.host,)))
    bytecode = store.pull(url, PullPolicy.ALWAYS, reg.auth)
    assert bytecode.digest == digest and bytecode.data == image_objects["xdp"].read_bytes()
    with pytest.raises(RegistryAuthError, match="refused the credentials"):
        store.pull(url, PullPolicy.ALWAYS, encode_auth(reg.user, "wrong"))
    with pytest.raises(RegistryAuthError, match="requires credentials"):
        store.pull(url, PullPolicy.ALWAYS)
