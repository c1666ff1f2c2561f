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
from typing import Any

import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

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


EXTENSIONS_FROM = 1000
EXTENSION_MESSAGES = {"LinkInfo", "LinkRow"}


def _without_extensions() -> Any:
    """GetResponse as the reference's clients know it: bpfman.v1 without this project's
    extensions (fields numbered 1000 and above, LinkInfo, LinkRow), in a pool of its own."""
    proto = descriptor_pb2.FileDescriptorProto()
    bpfman_pb2.DESCRIPTOR.CopyToProto(proto)
    kept = [m for m in proto.message_type if m.name not in EXTENSION_MESSAGES]
    del proto.message_type[:]
    proto.message_type.extend(kept)
    for message in proto.message_type:
        fields = [f for f in message.field if f.number < EXTENSIONS_FROM]
        del message.field[:]
        message.field.extend(fields)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("bpfman.v1.GetResponse"))


def test_the_extensions_are_invisible_to_the_references_clients() -> None:
    """ProgramInfo keeps the reference's fields 1-8; what this project adds is numbered
    from 1000 and skipped, as unknown fields, by a client built without it."""
    program_info = bpfman_pb2.ProgramInfo.DESCRIPTOR
    assert {f.number for f in program_info.fields if f.number < EXTENSIONS_FROM} == set(range(1, 9))
    assert {f.name for f in program_info.fields if f.number >= EXTENSIONS_FROM} == {
        "link_details",
        "plugin_data",
    }
    link = bpfman_pb2.LinkInfo(
        id=7, type="xdp", attachment="veth0 pos-0", position=0, params={"priority": "50"}
    )
    link.rows.add(key="Priority", value="50")
    ours = bpfman_pb2.GetResponse(
        info=bpfman_pb2.ProgramInfo(
            name="pass", links=[7], metadata={"a": "b"}, link_details=[link],
            plugin_data={"retprobe": "false"},
        ),
        kernel_info=bpfman_pb2.KernelProgramInfo(id=42, name="pass"),
    )  # fmt: skip
    theirs = _without_extensions().FromString(ours.SerializeToString())
    assert (theirs.info.name, list(theirs.info.links), dict(theirs.info.metadata)) == (
        "pass", [7], {"a": "b"},
    )  # fmt: skip
    assert theirs.kernel_info.id == 42
    theirs.DiscardUnknownFields()
    plain = bpfman_pb2.GetResponse()
    plain.CopyFrom(ours)
    plain.info.ClearField("link_details")
    plain.info.ClearField("plugin_data")
    assert theirs.SerializeToString(deterministic=True) == plain.SerializeToString(
        deterministic=True
    )
