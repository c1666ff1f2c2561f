"""The generated gRPC modules are exactly what grpcio-tools makes of their .proto files.

bpfman_pb2.py, bpfman_pb2.pyi and bpfman_pb2_grpc.py (and csi_pb2* beside
bpfman/csi/csi.proto) are committed (users need no protoc); this test
regenerates them in a temporary tree and fails when the committed files
differ, so an edit of a .proto cannot ship stale stubs.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bpfman.csi import csi_pb2
from bpfman.service import bpfman_pb2

REPO = Path(__file__).resolve().parent.parent
PROTOS = ("bpfman/service/bpfman.proto", "bpfman/csi/csi.proto")


@pytest.mark.parametrize("proto", PROTOS)
def test_committed_stubs_match_the_proto(tmp_path: Path, proto: str) -> None:
    source = REPO / proto
    tree = tmp_path / Path(proto).parent
    tree.mkdir(parents=True)
    shutil.copy(source, tree / source.name)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            "-I.",
            "--python_out=.",
            "--pyi_out=.",
            "--grpc_python_out=.",
            proto,
        ],
        cwd=tmp_path,
        check=True,
    )
    for suffix in ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py"):
        name = source.stem + suffix
        fresh = (tree / name).read_bytes()
        assert fresh == (source.parent / name).read_bytes(), f"{name} is stale: run `make proto`"


def test_the_wire_contract_of_a_few_fields() -> None:
    """Spot checks of names and numbers clients depend on (package, oneofs, enums)."""
    desc = bpfman_pb2.DESCRIPTOR
    assert desc.package == "bpfman.v1"
    service = desc.services_by_name["Bpfman"]
    assert [m.name for m in service.methods] == [
        "Load",
        "Unload",
        "Attach",
        "Detach",
        "List",
        "PullBytecode",
        "Get",
    ]
    attach = desc.message_types_by_name["AttachInfo"]
    assert {f.name: f.number for f in attach.fields}["lsm_attach_info"] == 9
    load = desc.message_types_by_name["LoadRequest"]
    assert {f.name: f.number for f in load.fields} == {
        "bytecode": 1,
        "metadata": 5,
        "global_data": 6,
        "uuid": 7,
        "map_owner_id": 8,
        "info": 9,
    }
    assert bpfman_pb2.BpfmanProgramType.Value("LSM") == 8
    assert desc.message_types_by_name["ListResponse"].fields_by_name["results"].number == 3


def test_the_csi_wire_contract() -> None:
    """The CSI spec's package, method paths, field numbers and enum values kubelet uses."""
    desc = csi_pb2.DESCRIPTOR
    assert desc.package == "csi.v1"
    assert [m.full_name for m in desc.services_by_name["Identity"].methods] == [
        "csi.v1.Identity.GetPluginInfo",
        "csi.v1.Identity.GetPluginCapabilities",
        "csi.v1.Identity.Probe",
    ]
    assert [m.name for m in desc.services_by_name["Node"].methods] == [
        "NodePublishVolume",
        "NodeUnpublishVolume",
        "NodeGetCapabilities",
        "NodeGetInfo",
    ]
    publish = desc.message_types_by_name["NodePublishVolumeRequest"]
    assert {f.name: f.number for f in publish.fields} == {
        "volume_id": 1,
        "publish_context": 2,
        "staging_target_path": 3,
        "target_path": 4,
        "volume_capability": 5,
        "readonly": 6,
        "secrets": 7,
        "volume_context": 8,
    }
    mount = csi_pb2.VolumeCapability.MountVolume.DESCRIPTOR
    assert mount.fields_by_name["volume_mount_group"].number == 3
    assert csi_pb2.VolumeCapability.DESCRIPTOR.fields_by_name["access_mode"].number == 3
    rpc = csi_pb2.NodeServiceCapability.RPC
    assert rpc.Type.Value("VOLUME_MOUNT_GROUP") == 6
    assert csi_pb2.VolumeCapability.AccessMode.Mode.Value("SINGLE_NODE_SINGLE_WRITER") == 6
    ready = csi_pb2.ProbeResponse.DESCRIPTOR.fields_by_name["ready"].message_type
    assert ready is not None and ready.full_name == "google.protobuf.BoolValue"
