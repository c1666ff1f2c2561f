"""Image references: ``[registry/]repository[:tag][@sha256:hex]`` (bpfman/images/reference.py)."""

from __future__ import annotations

import re

import pytest

from bpfman.errors import InvalidInputError
from bpfman.images import parse_reference


@pytest.mark.parametrize(
    ("url", "registry", "repo", "tag", "digest"),
    [
        (
            "quay.io/bpfman-bytecode/xdp_pass:latest",
            "quay.io",
            "bpfman-bytecode/xdp_pass",
            "latest",
            None,
        ),
        ("quay.io/bpfman-bytecode/xdp_pass", "quay.io", "bpfman-bytecode/xdp_pass", "latest", None),
        ("localhost:5000/a/b:v1", "localhost:5000", "a/b", "v1", None),
        ("localhost/a", "localhost", "a", "latest", None),
        ("127.0.0.1:5000/x", "127.0.0.1:5000", "x", "latest", None),
        ("busybox", "docker.io", "library/busybox", "latest", None),
        ("bpfman/xdp:1.0", "docker.io", "bpfman/xdp", "1.0", None),
        ("quay.io/a/b@sha256:" + "a" * 64, "quay.io", "a/b", None, "sha256:" + "a" * 64),
        ("quay.io/a/b:t@sha256:" + "b" * 64, "quay.io", "a/b", "t", "sha256:" + "b" * 64),
    ],
)
def test_parse_reference(
    url: str, registry: str, repo: str, tag: str | None, digest: str | None
) -> None:
    ref = parse_reference(url)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (registry, repo, tag, digest)
    assert ref.reference == (digest or tag)


def test_docker_hub_api_host() -> None:
    assert parse_reference("busybox").api_host == "registry-1.docker.io"
    assert parse_reference("quay.io/a/b").api_host == "quay.io"


@pytest.mark.parametrize(
    "url",
    [
        "",
        "Quay.io/UPPER/x",
        "quay.io/a/b@sha256:abc",
        "https://quay.io/a/b",
        "quay.io/a/b:bad tag",
        "quay.io/a//b",
        "quay.io/a/b:",
    ],
)
def test_parse_reference_rejects(url: str) -> None:
    with pytest.raises(InvalidInputError, match="invalid image URL"):
        parse_reference(url)


def test_text_forms() -> None:
    ref = parse_reference("quay.io/a/b:t@sha256:" + "c" * 64)
    assert ref.name == "quay.io/a/b"
    assert str(ref) == "quay.io/a/b:t@sha256:" + "c" * 64
    assert ref.reference == "sha256:" + "c" * 64  # the digest wins over the tag
    assert str(parse_reference("busybox")) == "docker.io/library/busybox:latest"
    assert str(parse_reference("[::1]:5000/x/y:v2")) == "[::1]:5000/x/y:v2"


@pytest.mark.parametrize(
    ("url", "part"),
    [
        (" quay.io/a b", "empty or contains spaces"),
        ("quay.io/a/b@sha256:xyz", "digest must be sha256:<64 hex>"),
        ("bad_host.io:x/a", "bad registry 'bad_host.io:x'"),
        ("quay.io/a/b:-t", "bad tag '-t'"),
        ("quay.io/A/b", "repository must be lowercase"),
    ],
)
def test_each_rejection_names_the_bad_part(url: str, part: str) -> None:
    with pytest.raises(InvalidInputError, match=re.escape(part)):
        parse_reference(url)


def test_credentials_in_the_url_are_refused_and_never_repeated() -> None:
    with pytest.raises(InvalidInputError) as exc:
        parse_reference("user:s3cr3t@quay.io/a/b:v1")
    assert "s3cr3t" not in str(exc.value)
    assert "--registry-auth" in str(exc.value)
