"""PullBytecode and image loads through gRPC against a real loopback registry."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from bpfman.images import BytecodeSources, ImageSettings
from bpfman.images.build import build_native
from tests.helpers.registry import Registry, infer_type, running_registry
from tests.helpers.root import Root
from tests.helpers.service import Service, pb, running_service

ALWAYS, IF_NOT_PRESENT, NEVER = 0, 1, 2


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Registry]:
    with running_registry(tmp_path_factory.mktemp("registry")) as reg:
        yield reg


@pytest.fixture(scope="module")
def image(registry: Registry, objects: Path) -> str:
    tag = f"{registry.host}/bpfman/grpc-counter:v1"
    build_native(
        BytecodeSources(bytecode=str(objects / "app_counter.bpf.o")),
        tag,
        ImageSettings(insecure_registries=(registry.host,)),
        infer_type,
        auth=registry.auth,
    )
    return tag


@pytest.fixture
def svc(root: Root, registry: Registry) -> Iterator[Service]:
    root.path.mkdir(parents=True, exist_ok=True)
    (root.path / "bpfman.toml").write_text(f'[images]\ninsecure_registries = ["{registry.host}"]\n')
    with running_service(root.path) as service:
        yield service


def pull(svc: Service, url: str, policy: int, user: str = "", password: str = "") -> None:
    image = pb.BytecodeImage(url=url, image_pull_policy=policy)
    if user:
        image.username, image.password = user, password
    svc.stub.PullBytecode(pb.PullBytecodeRequest(image=image))


def test_pull_fills_the_cache_auth_failures_are_refused_credentials_never_stored(
    svc: Service, root: Root, registry: Registry, image: str
) -> None:
    for user, password, fragment in (
        ("", "", "requires credentials"),
        (registry.user, "wrong-password", "refused the credentials"),
    ):
        with pytest.raises(grpc.RpcError) as caught:
            pull(svc, image, ALWAYS, user, password)
        assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert fragment in (caught.value.details() or "")
    assert svc.alive()

    pull(svc, image, ALWAYS, registry.user, registry.password)
    # Never: served from the cache the pull filled, without credentials.
    request = pb.LoadRequest(
        bytecode=pb.BytecodeLocation(image=pb.BytecodeImage(url=image, image_pull_policy=NEVER)),
        info=[
            pb.LoadInfo(name="tracepoint_kill_recorder", program_type=pb.TRACEPOINT),
            pb.LoadInfo(name="tcx_stats", program_type=pb.TCX),
        ],
        metadata={"bpfman.io/uuid": "img-1"},
    )
    first, second = svc.stub.Load(request).programs
    assert first.info.bytecode.image.url == image
    assert first.info.bytecode.image.image_pull_policy == NEVER
    assert not first.info.bytecode.image.HasField("password")
    assert second.info.map_owner_id == first.kernel_info.id

    stored = b"".join(
        p.read_bytes() for p in root.path.rglob("*") if p.is_file() and "fs" not in p.parts
    )
    assert registry.password.encode() not in stored

    with pytest.raises(grpc.RpcError) as caught:
        pull(svc, f"{registry.host}/bpfman/absent:v1", NEVER)
    assert caught.value.code() == grpc.StatusCode.NOT_FOUND


def test_an_image_load_without_a_name_takes_the_programs_label(
    svc: Service, registry: Registry, image: str, objects: Path
) -> None:
    """An empty LoadInfo.name loads the image's one program labelled with the type
    (io.ebpf.programs), as bpfctl's load-from-image without --name; several or none are
    refused, and so is an empty name for a file, whose programs carry no labels."""
    pull(svc, image, ALWAYS, registry.user, registry.password)
    source = pb.BytecodeLocation(image=pb.BytecodeImage(url=image, image_pull_policy=NEVER))

    def load(*types: int) -> pb.LoadResponse:
        info = [pb.LoadInfo(name="", program_type=t) for t in types]  # type: ignore[arg-type]
        response: pb.LoadResponse = svc.stub.Load(pb.LoadRequest(bytecode=source, info=info))
        return response

    xdp, tracepoint = load(pb.XDP, pb.TRACEPOINT).programs
    assert (xdp.info.name, tracepoint.info.name) == ("xdp_stats", "tracepoint_kill_recorder")
    assert tracepoint.info.map_owner_id == xdp.kernel_info.id
    for program in (tracepoint, xdp):
        svc.stub.Unload(pb.UnloadRequest(id=program.kernel_info.id))

    for ptype, code, fragment in (
        (pb.TC, grpc.StatusCode.INVALID_ARGUMENT, "has several tc programs (stats, tcx_stats)"),
        (pb.TCX, grpc.StatusCode.NOT_FOUND, "has no tcx program (it has: kprobe_counter (kprobe)"),
    ):
        with pytest.raises(grpc.RpcError) as caught:
            load(ptype)
        assert caught.value.code() == code and fragment in (caught.value.details() or ""), (
            caught.value.details()
        )
    file_request = pb.LoadRequest(
        bytecode=pb.BytecodeLocation(file=str(objects / "app_counter.bpf.o")),
        info=[pb.LoadInfo(name="", program_type=pb.XDP)],
    )
    with pytest.raises(grpc.RpcError) as caught:
        svc.stub.Load(file_request)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "no function named for the xdp program" in (caught.value.details() or "")
    assert svc.stub.List(pb.ListRequest(bpfman_programs_only=True)).results == []


def test_an_unreachable_registry_is_unavailable(svc: Service) -> None:
    """UNAVAILABLE: the registry, not the request, failed, and a retry may succeed."""
    with socket.socket() as closed:  # bound, never listening: connections are refused
        closed.bind(("127.0.0.1", 0))
        host = f"127.0.0.1:{closed.getsockname()[1]}"
        with pytest.raises(grpc.RpcError) as caught:
            pull(svc, f"{host}/nothing/here:v1", ALWAYS)
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert f"cannot reach registry {host}" in (caught.value.details() or "")
    assert svc.alive()
