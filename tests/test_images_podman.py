"""``image build --runtime podman``: a real podman build and push, pulled back by bpfman.

podman runs with its own vfs storage in a temporary directory (no host image
store is touched) and pushes with the login file it is given.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from bpfman.cli.image import make_image_group
from bpfman.core.images import ImageSettings, ImageStore, PullPolicy
from tests.helpers.registry import (
    XDP_TC_SOURCE,
    Registry,
    compile_bpf,
    infer_type,
    running_registry,
)

# The reference project's Containerfile.bytecode.
CONTAINERFILE = """\
FROM scratch

ARG PROGRAMS
ARG MAPS
ARG BYTECODE_FILE

COPY $BYTECODE_FILE /

LABEL "io.ebpf.programs"=$PROGRAMS

LABEL "io.ebpf.maps"=$MAPS
"""


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[Registry]:
    with running_registry(tmp_path / "registry") as reg:
        yield reg


@pytest.fixture
def podman_env(tmp_path: Path, registry: Registry, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private podman storage and a login file; the build context directory."""
    storage = tmp_path / "podman"
    storage.mkdir()
    conf = storage / "storage.conf"
    conf.write_text(
        f'[storage]\ndriver = "vfs"\nrunroot = "{storage / "run"}"\ngraphroot = "{storage / "graph"}"\n'
    )
    auth = storage / "auth.json"
    auth.write_text(json.dumps({"auths": {registry.host: {"auth": registry.auth}}}))
    monkeypatch.setenv("CONTAINERS_STORAGE_CONF", str(conf))
    monkeypatch.setenv("REGISTRY_AUTH_FILE", str(auth))
    context = tmp_path / "context"
    context.mkdir()
    monkeypatch.chdir(context)
    return context


def test_podman_build_push_and_pull(tmp_path: Path, registry: Registry, podman_env: Path) -> None:
    obj = compile_bpf(XDP_TC_SOURCE, podman_env / "bpf_x86_bpfel.o")
    (podman_env / "Containerfile.bytecode").write_text(CONTAINERFILE)
    settings = ImageSettings(insecure_registries=(registry.host,))
    store = ImageStore(tmp_path / "root", settings)
    group = make_image_group(lambda: store, infer_type)
    url = f"{registry.host}/podman/xdp:v1"
    args = ["build", "-r", "podman", "-f", "Containerfile.bytecode", "-t", url, "-b", obj.name]
    result = CliRunner().invoke(group, args)
    assert result.exit_code == 0, (result.output, result.exception)
    bytecode = store.pull(url, PullPolicy.ALWAYS, registry.auth)
    assert bytecode.data == obj.read_bytes()
    assert bytecode.programs == {"xdp_stats": "xdp", "stats": "tc"}
    assert bytecode.maps == {"xdp_stats_map": "per_cpu_array"}
