"""A third-party program type reached through gRPC by what its declaration says.

The service runs in this process (a thread) with a plugin manager holding the
demo plugin (tests/plugins/bpfman_demo_plugin), whose ProgramType names
``AttachInfo.tracepoint_attach_info`` and whose one option is read from that
message's field of the same name. The proto's LoadInfo enum cannot name such a
type, so the program is loaded through the library and attached through gRPC.
The mapping itself (renames, unset values, numeric codes) and the start-time
check of a declaration are pure logic, tested below without a kernel.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import grpc
import pytest

from bpfman.core.manager import Bpfman
from bpfman.core.plugins import get_plugin_manager
from bpfman.plugin import (
    AttachParams,
    GrpcField,
    PluginError,
    ProgramType,
    TypeHandler,
    hookimpl,
    option,
)
from bpfman.service.bpfman_pb2_grpc import BpfmanStub
from bpfman.service.server import Service
from bpfman.service.translate import Translator, attach_params, check_attach_info
from tests.helpers import demo
from tests.helpers.bpftool import bpftool, map_values
from tests.helpers.raises import refused
from tests.helpers.root import Root
from tests.helpers.service import pb


@pytest.fixture
def served(root: Root) -> Iterator[tuple[Bpfman, Any]]:
    bpfman = Bpfman(root.path, get_plugin_manager(extra=[demo.module()]))
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


def test_the_demo_plugin_is_reached_through_grpc(served: tuple[Bpfman, Any], objects: Path) -> None:
    bpfman, stub = served
    [prog] = bpfman.load_file(
        objects / "tracepoint_counter.bpf.o",
        ["demo:tracepoint_counter"],
        globals={"target_pid": os.getpid().to_bytes(4, "little")},
    )
    tp = pb.TracepointAttachInfo(tracepoint="syscalls/sys_enter_getppid", metadata={"k": "v"})
    link_id = stub.Attach(
        pb.AttachRequest(id=prog.id, attach=pb.AttachInfo(tracepoint_attach_info=tp))
    ).link_id
    assert bpfman.get_link(link_id).link.params == {"tracepoint": "syscalls/sys_enter_getppid"}
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
    # The declaration's own check, whichever face the value came through.
    bad = pb.AttachInfo(tracepoint_attach_info=pb.TracepointAttachInfo(tracepoint="a\0b"))
    with pytest.raises(grpc.RpcError) as caught:
        stub.Attach(pb.AttachRequest(id=prog.id, attach=bad))
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert caught.value.details() == "demo: tracepoint contains a NUL byte"
    stub.Unload(pb.UnloadRequest(id=prog.id))


def test_the_builtin_declarations_map_the_messages_as_before() -> None:
    types = get_plugin_manager().types
    check_attach_info(types)
    assert {name: t.attach_info for name, t in types.items() if t.attach_info} == {
        name: f"{name}_attach_info"
        for name in ("fentry", "fexit", "kprobe", "tc", "tcx", "tracepoint", "uprobe", "xdp")
    }
    # An unset (0) priority means last; proceed-on codes become the flavour's names.
    xdp = {"iface": "eth0", "priority": 0, "position": 3, "proceed_on": [2, 31], "netns": None}
    assert attach_params(types["xdp"], xdp) == {
        "iface": "eth0",
        "priority": 1000,
        "proceed_on": ["pass", "dispatcher_return"],
        "netns": None,
    }
    tc = {"direction": "egress", "iface": "eth0", "priority": 7, "proceed_on": [], "netns": "/n"}
    assert attach_params(types["tc"], tc) == tc
    with refused("tc: invalid proceed_on value 9 (possible values: -1 (unspec), 0 (ok)"):
        attach_params(types["tc"], {**tc, "proceed_on": [9]})
    uprobe = {"fn_name": None, "offset": 0, "target": "libc", "pid": 4, "container_pid": None}
    assert attach_params(types["uprobe"], uprobe) == uprobe
    assert attach_params(types["fentry"], {}) == {}


@dataclass(frozen=True)
class WhereParams(AttachParams):
    type_name: ClassVar[str] = "where"
    where: str = field(metadata=option("Required: Where.", grpc=GrpcField("tracepoint")))
    note: str = field(default="", metadata=option("Optional: Not in the message.", grpc=None))


class Handler(TypeHandler[AttachParams]):
    def __init__(self, params: type[AttachParams]) -> None:
        self.params = params


class Plugin:
    def __init__(self, attach_info: str, params: type[AttachParams]) -> None:
        self.ptype = ProgramType("where", 5, handler=Handler(params), attach_info=attach_info)

    @hookimpl
    def bpfman_program_types(self) -> list[ProgramType]:
        return [self.ptype]


def test_a_declared_field_name_renames_and_none_leaves_an_option_out() -> None:
    plugins = get_plugin_manager(extra=[Plugin("tracepoint_attach_info", WhereParams)])
    assert attach_params(plugins.program_type("where"), {"tracepoint": "a/b"}) == {"where": "a/b"}


@dataclass(frozen=True)
class TypoParams(AttachParams):
    type_name: ClassVar[str] = "where"
    where: str = field(metadata=option("Required: Where.", grpc=GrpcField("tracepont")))


@pytest.mark.parametrize(
    ("attach_info", "params", "message"),
    [
        ("tracepont_attach_info", WhereParams, "attach_info 'tracepont_attach_info' is no"),
        ("tracepoint_attach_info", TypoParams, "tracepoint_attach_info.tracepont, which does"),
    ],
)
def test_a_typo_in_a_declaration_stops_the_service_at_start(
    root: Root, attach_info: str, params: type[AttachParams], message: str
) -> None:
    plugins = get_plugin_manager(extra=[Plugin(attach_info, params)])
    with Bpfman(root.path, plugins) as bpfman, refused(message, PluginError):
        Translator(bpfman)


def test_a_broken_plugin_does_not_stop_the_service(
    root: Root, objects: Path, tmp_path: Path
) -> None:
    """The service loads every plugin at start: broken third-party ones (one fails to
    import, one declares nothing, one claims the tracepoint name) are left out with a
    warning, and every other type is served (it was a service that would not start)."""
    from tests.helpers.service import file_load, running_service

    env: dict[str, str] = {}
    with (
        demo.installed(tmp_path, env, demo.BROKEN_DIR),
        running_service(root.path, env=env) as svc,
    ):
        [prog] = svc.stub.Load(
            file_load(objects / "kprobe_counter.bpf.o", (pb.KPROBE, "kprobe_counter"))
        ).programs
        svc.stub.Unload(pb.UnloadRequest(id=prog.kernel_info.id))
        # Two distributions claim "tracepoint": neither is guessed, and the answer says so.
        with pytest.raises(grpc.RpcError) as caught:
            svc.stub.Load(
                file_load(
                    objects / "tracepoint_counter.bpf.o", (pb.TRACEPOINT, "tracepoint_counter")
                )
            )
        assert "registered by both" in (caught.value.details() or "")
        assert "left out" in svc.logs()
