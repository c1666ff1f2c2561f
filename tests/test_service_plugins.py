"""A third-party program type reached through gRPC by the mapping it declares.

The service runs in this process (a thread) with a plugin manager holding a
throwaway plugin: type ``gdemo`` is a tracepoint program that declares it is
attached through ``AttachInfo.tracepoint_attach_info``, its parameter named
``where``. The proto's LoadInfo enum cannot name such a type, so the program is
loaded through the library and attached through gRPC.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import grpc
import pytest

from bpfman.core.manager import Bpfman
from bpfman.core.plugins import get_plugin_manager
from bpfman.plugin import (
    AttachContext,
    AttachMapping,
    AttachParams,
    LinkView,
    ProgramType,
    TypeHandler,
    hookimpl,
    kernel,
)
from bpfman.service.attachinfo import collect
from bpfman.service.bpfman_pb2_grpc import BpfmanStub
from bpfman.service.server import Service
from tests.helpers.bpftool import bpftool, map_values
from tests.helpers.root import Root
from tests.helpers.service import pb


@dataclass(frozen=True)
class GDemoParams(AttachParams):
    type_name: ClassVar[str] = "gdemo"
    where: str


class GDemoHandler(TypeHandler[GDemoParams]):
    params = GDemoParams

    def attach(self, ctx: AttachContext, params: GDemoParams) -> dict[str, Any]:
        category, _, name = params.where.partition("/")
        with (
            ctx.program_fd() as prog,
            kernel.perf_event_tracepoint(category, name) as event,
            kernel.link_create_perf_event(prog.fd, event.fd) as link,
        ):
            ctx.pin_link(link)
        return params.to_record()

    def describe(self, recorded: Mapping[str, Any]) -> LinkView:
        return LinkView(str(recorded["where"]), [])


class GDemo:
    grpc_attach_info: ClassVar[dict[str, AttachMapping]] = {
        "gdemo": AttachMapping("tracepoint_attach_info", ("where=tracepoint",))
    }

    @hookimpl
    def bpfman_program_types(self) -> list[ProgramType]:
        return [ProgramType("gdemo", kernel.PROG_TYPE.TRACEPOINT, handler=GDemoHandler())]


@pytest.fixture
def served(root: Root) -> Iterator[tuple[Bpfman, Any]]:
    bpfman = Bpfman(root.path, get_plugin_manager(extra=[GDemo()]))
    sock = Path(tempfile.mkdtemp(prefix="bpfman-svc-plugin-")) / "s" / "bpfman.sock"
    service = Service(bpfman, sock, timeout=0)
    thread = threading.Thread(target=service.run)
    thread.start()
    channel = grpc.insecure_channel(f"unix:{sock}")
    try:
        grpc.channel_ready_future(channel).result(timeout=20)
        yield bpfman, BpfmanStub(channel)  # type: ignore[no-untyped-call]
    finally:
        channel.close()
        service.stop()
        thread.join(60)
        for row in bpfman.list_programs():
            bpfman.unload(row.id)
        bpfman.close()
        sock.parent.rmdir()
        sock.parent.parent.rmdir()


def test_a_plugin_declared_mapping_reaches_a_third_party_type(
    served: tuple[Bpfman, Any], objects: Path
) -> None:
    bpfman, stub = served
    [prog] = bpfman.load_file(
        objects / "tracepoint_counter.bpf.o",
        ["gdemo:tracepoint_counter"],
        globals={"target_pid": os.getpid().to_bytes(4, "little")},
    )
    tp = pb.TracepointAttachInfo(tracepoint="syscalls/sys_enter_getppid", metadata={"k": "v"})
    link_id = stub.Attach(
        pb.AttachRequest(id=prog.id, attach=pb.AttachInfo(tracepoint_attach_info=tp))
    ).link_id
    assert bpfman.get_link(link_id).link.params == {"where": "syscalls/sys_enter_getppid"}
    assert bpfman.get_link(link_id).link.metadata == {"k": "v"}
    assert [ln for ln in bpftool("link", "show") if ln["prog_id"] == prog.id]
    for _ in range(7):
        os.getppid()
    assert map_values(f"{prog.map_pin_path}/counts")[0] == 7
    wrong = pb.AttachInfo(kprobe_attach_info=pb.KprobeAttachInfo(fn_name="x"))
    with pytest.raises(grpc.RpcError) as caught:
        stub.Attach(pb.AttachRequest(id=prog.id, attach=wrong))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "send tracepoint_attach_info" in (caught.value.details() or "")
    stub.Unload(pb.UnloadRequest(id=prog.id))


def test_the_builtin_types_declare_theirs_and_clashes_are_loud() -> None:
    class Mine:
        grpc_attach_info: ClassVar[dict[str, AttachMapping]] = {
            "tracepoint": AttachMapping("kprobe_attach_info", ("fn_name",))
        }

    plugins = get_plugin_manager()
    found = collect(plugins.objects(), [*plugins.types, "unknown"])
    assert found["tracepoint"].kind == "tracepoint_attach_info"
    assert found["xdp"].kind == "xdp_attach_info"
    assert "unknown" not in found
    with pytest.raises(Exception, match="declared by both"):
        collect([*plugins.objects(), Mine()], ["tracepoint"])
    proceed = found["xdp"].params({"iface": "eth0", "priority": 0, "proceed_on": [2, 31]})
    assert proceed == {
        "iface": "eth0",
        "priority": 1000,
        "proceed_on": ["pass", "dispatcher_return"],
        "netns": None,
    }
