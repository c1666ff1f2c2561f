"""The generated gRPC modules are exactly what grpcio-tools makes of bpfman.proto.

bpfman_pb2.py, bpfman_pb2.pyi and bpfman_pb2_grpc.py are committed (users need
no protoc); this test regenerates them in a temporary tree and fails when the
committed files differ, so an edit of the .proto cannot ship stale stubs.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from bpfman.service import bpfman_pb2

REPO = Path(__file__).resolve().parent.parent
SERVICE = REPO / "bpfman" / "service"
GENERATED = ("bpfman_pb2.py", "bpfman_pb2.pyi", "bpfman_pb2_grpc.py")


def test_committed_stubs_match_the_proto(tmp_path: Path) -> None:
    tree = tmp_path / "bpfman" / "service"
    tree.mkdir(parents=True)
    shutil.copy(SERVICE / "bpfman.proto", tree / "bpfman.proto")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            "-I.",
            "--python_out=.",
            "--pyi_out=.",
            "--grpc_python_out=.",
            "bpfman/service/bpfman.proto",
        ],
        cwd=tmp_path,
        check=True,
    )
    for name in GENERATED:
        fresh = (tree / name).read_bytes()
        assert fresh == (SERVICE / name).read_bytes(), f"{name} is stale: run `make proto`"


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
