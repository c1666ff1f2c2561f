"""``image build --runtime podman``: a real podman build and push, pulled back by bpfman.

podman runs with its own vfs storage in a temporary directory (no host image
store is touched) and pushes with the login file it is given.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bpfman.cli.image import make_image_group
from bpfman.images import ImageSettings, ImageStore, PullPolicy
from tests.helpers.build import compile_bpf
from tests.helpers.registry import (
    XDP_TC_SOURCE,
    Registry,
    infer_type,
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


# The shape of the reference project's Containerfile.bytecode.multi.arch (two arches here).
MULTI_ARCH_CONTAINERFILE = """\
ARG TARGETARCH

FROM --platform=linux/amd64 scratch AS linux-amd64
ARG BC_AMD64_EL
COPY $BC_AMD64_EL /

FROM --platform=linux/arm64 scratch AS linux-arm64
ARG BC_ARM64_EL
COPY $BC_ARM64_EL /

FROM linux-${TARGETARCH}
ARG PROGRAMS
ARG MAPS
LABEL "io.ebpf.programs"=$PROGRAMS
LABEL "io.ebpf.maps"=$MAPS
"""


def test_podman_multi_arch_build(tmp_path: Path, registry: Registry, podman_env: Path) -> None:
    project = podman_env / "proj"
    project.mkdir()
    obj = compile_bpf(XDP_TC_SOURCE, project / "bpf_x86_bpfel.o")
    (project / "bpf_arm64_bpfel.o").write_bytes(obj.read_bytes())
    (podman_env / "Containerfile.bytecode.multi.arch").write_text(MULTI_ARCH_CONTAINERFILE)
    store = ImageStore(tmp_path / "root", ImageSettings(insecure_registries=(registry.host,)))
    group = make_image_group(lambda: store, infer_type)
    url = f"{registry.host}/podman/multi:v1"
    args = ["build", "-r", "podman", "-f", "Containerfile.bytecode.multi.arch", "-t", url]
    result = CliRunner().invoke(group, [*args, "-c", "proj"])
    assert result.exit_code == 0, (result.output, result.exception)
    bytecode = store.pull(url, PullPolicy.ALWAYS, registry.auth)
    assert bytecode.data == obj.read_bytes()
    assert bytecode.programs == {"xdp_stats": "xdp", "stats": "tc"}
