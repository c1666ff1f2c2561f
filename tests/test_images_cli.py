"""The ``bpfman image`` command group, driven through click against a real registry."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from bpfman.cli.image import make_image_group
from bpfman.errors import ImageError, InvalidInputError, NotFoundError
from bpfman.images import ImageSettings, ImageStore, PullPolicy
from tests.helpers.registry import Registry, infer_type, write_keypair


@pytest.fixture
def logged_in(tmp_path: Path, registry: Registry, monkeypatch: pytest.MonkeyPatch) -> Registry:
    """A docker config holding the registry login, as ``docker login`` leaves it."""
    monkeypatch.delenv("REGISTRY_AUTH_FILE", raising=False)
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
    (tmp_path / "docker").mkdir()
    config = {"auths": {registry.host: {"auth": registry.auth}}}
    (tmp_path / "docker" / "config.json").write_text(json.dumps(config))
    return registry


def run(tmp_path: Path, registry: Registry, *args: str, **settings: Any) -> Result:
    store = ImageStore(tmp_path / "root", ImageSettings((registry.host,), **settings))
    group = make_image_group(lambda: store, infer_type)
    return CliRunner().invoke(group, list(args), prog_name="bpfman image")


def test_help_lists_the_subcommands(tmp_path: Path, registry: Registry) -> None:
    result = run(tmp_path, registry, "--help")
    assert "eBPF Bytecode Image related commands" in result.output
    for name in ("pull", "build", "generate-build-args", "sign"):
        assert name in result.output
    pull_help = run(tmp_path, registry, "pull", "--help").output
    assert "Example: --image-url quay.io/bpfman-bytecode/xdp_pass:latest" in pull_help
    assert "[default: IfNotPresent]" in pull_help
    build_help = run(tmp_path, registry, "build", "--help").output
    assert "--bc-s390x-eb <BC_S390X_EB>" in build_help and "native" in build_help


def test_generate_build_args(
    tmp_path: Path, registry: Registry, image_objects: dict[str, Path]
) -> None:
    result = run(tmp_path, registry, "generate-build-args", "-b", str(image_objects["xdp"]))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"BYTECODE_FILE={image_objects['xdp']}",
        'PROGRAMS={"xdp_stats":"xdp","stats":"tc"}',
        'MAPS={"xdp_stats_map":"per_cpu_array"}',
    ]
    result = run(
        tmp_path,
        registry,
        "generate-build-args",
        "--bc-arm64-el",
        str(image_objects["tp"]),
        "--bc-amd64-el",
        str(image_objects["tp"]),
    )
    assert result.output.splitlines()[:2] == [
        f"BC_AMD64_EL={image_objects['tp']}",
        f"BC_ARM64_EL={image_objects['tp']}",
    ]
    result = run(tmp_path, registry, "generate-build-args")
    assert result.exit_code != 0 and isinstance(result.exception, InvalidInputError)


def test_build_native_then_pull(
    tmp_path: Path, logged_in: Registry, image_objects: dict[str, Path]
) -> None:
    url = f"{logged_in.host}/cli/xdp:v1"
    result = run(
        tmp_path, logged_in, "build", "-r", "native", "-t", url, "-b", str(image_objects["xdp"])
    )
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Pushed {url} (sha256:")
    result = run(tmp_path, logged_in, "pull", "-i", url, "-r", logged_in.auth)
    assert result.exit_code == 0, result.output
    assert result.output == "Successfully downloaded bytecode\n"
    store = ImageStore(tmp_path / "root", ImageSettings((logged_in.host,)))
    assert store.pull(url, PullPolicy.NEVER).data == image_objects["xdp"].read_bytes()


def test_build_native_multi_arch(
    tmp_path: Path, logged_in: Registry, image_objects: dict[str, Path]
) -> None:
    project = tmp_path / "proj"
    project.mkdir()
    (project / "bpf_x86_bpfel.o").write_bytes(image_objects["xdp"].read_bytes())
    (project / "bpf_arm64_bpfel.o").write_bytes(image_objects["tp"].read_bytes())
    url = f"{logged_in.host}/cli/multi:v1"
    result = run(tmp_path, logged_in, "build", "--runtime", "native", "-t", url, "-c", str(project))
    assert result.exit_code == 0, result.output
    assert run(tmp_path, logged_in, "pull", "-i", url, "-r", logged_in.auth).exit_code == 0


def test_build_native_without_login_is_unauthorized(
    tmp_path: Path,
    registry: Registry,
    image_objects: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "nothing"))
    monkeypatch.delenv("REGISTRY_AUTH_FILE", raising=False)
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    url = f"{registry.host}/cli/nologin:v1"
    result = run(
        tmp_path, registry, "build", "-r", "native", "-t", url, "-b", str(image_objects["xdp"])
    )
    assert result.exit_code != 0
    assert isinstance(result.exception, ImageError)
    assert "unauthorized" in str(result.exception)


def test_build_with_engine_needs_container_file(
    tmp_path: Path, registry: Registry, image_objects: dict[str, Path]
) -> None:
    result = run(tmp_path, registry, "build", "-t", "x/y:z", "-b", str(image_objects["xdp"]))
    assert isinstance(result.exception, InvalidInputError)
    assert "--container-file is required" in str(result.exception)


def test_pull_errors(tmp_path: Path, registry: Registry) -> None:
    url = f"{registry.host}/cli/missing:v1"
    result = run(tmp_path, registry, "pull", "-i", url, "-p", "Never")
    assert result.exit_code != 0 and isinstance(result.exception, NotFoundError)
    result = run(tmp_path, registry, "pull", "-i", url, "-p", "Sometimes")
    assert result.exit_code != 0 and "Sometimes" in result.output
    result = run(tmp_path, registry, "pull", "-i", url, "-r", "bad!")
    assert isinstance(result.exception, InvalidInputError)


def test_sign_then_verified_pull(
    tmp_path: Path, logged_in: Registry, image_objects: dict[str, Path]
) -> None:
    private, public = write_keypair(tmp_path, "k")
    url = f"{logged_in.host}/cli/signed:v1"
    assert (
        run(
            tmp_path, logged_in, "build", "-r", "native", "-t", url, "-b", str(image_objects["xdp"])
        ).exit_code
        == 0
    )
    strict = {"verify_enabled": True, "allow_unsigned": False, "public_key": str(public)}
    result = run(tmp_path, logged_in, "pull", "-i", url, "-r", logged_in.auth, **strict)
    assert isinstance(result.exception, ImageError) and "is not signed" in str(result.exception)
    result = run(tmp_path, logged_in, "sign", "--key", str(private), "-i", url)
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Pushed signature for {logged_in.host}/cli/signed@sha256:")
    result = run(tmp_path, logged_in, "pull", "-i", url, "-r", logged_in.auth, **strict)
    assert result.exit_code == 0, result.output


def test_progress_bar_only_on_a_terminal(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from bpfman.cli.image import _progress

    with _progress() as update:
        assert update is None  # captured stdout is not a terminal
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    with _progress() as update:
        assert update is not None
        update(1024, 4096)  # small layers get no bar
    assert "Downloading" not in capsys.readouterr().out
    with _progress() as update:
        assert update is not None
        for done in range(0, 4 << 20, 1 << 20):
            update(done + (1 << 20), 4 << 20)
    assert "Downloading bytecode" in capsys.readouterr().out
