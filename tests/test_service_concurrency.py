"""16 gRPC clients load, attach, detach and unload at once while the CLI lists and
attaches: no errors, and nothing is left in the kernel, on bpffs or in the state.
"""

from __future__ import annotations

import json
import subprocess
import threading
from pathlib import Path
from typing import Any

import grpc

from tests.helpers.bpftool import prog_ids
from tests.helpers.root import BPFMAN, REPO, Root
from tests.helpers.service import file_load, pb, running_service
from tests.helpers.wait import eventually

CLIENTS = 16
ROUNDS = 3
TRACEPOINT = "syscalls/sys_enter_getppid"
# The kernel releases a detached tracepoint link asynchronously (bpf_link_put is
# deferred), so re-attaching the same program to the same tracepoint right after
# a detach can meet EEXIST under load: each re-attach here picks another one.
OTHER = ["syscalls/sys_enter_getpid", "syscalls/sys_enter_getuid", "syscalls/sys_enter_getgid",
         "syscalls/sys_enter_geteuid", "syscalls/sys_enter_getegid"]  # fmt: skip


def test_sixteen_clients_and_the_cli_at_once(root: Root, objects: Path) -> None:
    obj = objects / "tracepoint_counter.bpf.o"
    before = prog_ids()
    errors: list[str] = []
    seen: set[int] = set()
    lock = threading.Lock()
    with running_service(root.path) as svc:
        tp = pb.AttachInfo(tracepoint_attach_info=pb.TracepointAttachInfo(tracepoint=TRACEPOINT))

        def client(n: int) -> None:
            channel = grpc.insecure_channel(f"unix:{svc.socket}")
            from bpfman.service.bpfman_pb2_grpc import BpfmanStub

            stub = BpfmanStub(channel)  # type: ignore[no-untyped-call]
            try:
                for r in range(ROUNDS):
                    meta = {"bpfman.io/uuid": f"c{n}-r{r}"}
                    request = file_load(obj, (pb.TRACEPOINT, "tracepoint_counter"), metadata=meta)
                    [loaded] = stub.Load(request).programs
                    prog_id = loaded.kernel_info.id
                    with lock:
                        seen.add(prog_id)
                    found = stub.List(pb.ListRequest(match_metadata=meta)).results
                    assert [f.kernel_info.id for f in found] == [prog_id]
                    link = stub.Attach(pb.AttachRequest(id=prog_id, attach=tp)).link_id
                    stub.Detach(pb.DetachRequest(link_id=link))
                    other = pb.TracepointAttachInfo(tracepoint=OTHER[r % len(OTHER)])
                    again = pb.AttachInfo(tracepoint_attach_info=other)
                    stub.Attach(pb.AttachRequest(id=prog_id, attach=again))
                    stub.Unload(pb.UnloadRequest(id=prog_id))  # detaches the second link
            except Exception as exc:
                with lock:
                    errors.append(f"client {n}: {exc!r}")
            finally:
                channel.close()

        def cli() -> None:
            """The CLI lists and attaches to one program of its own meanwhile."""
            try:
                out = root.run("load", "file", "-p", obj, "--programs",
                               "tracepoint:tracepoint_counter", "-o", "json").stdout  # fmt: skip
                prog_id = json.loads(out)[0]["id"]
                for tracepoint in OTHER[:4]:
                    root.run("list", "programs")
                    out = root.run(
                        "attach", "--output", "json", prog_id, "tracepoint", "-t", tracepoint
                    ).stdout
                    link = json.loads(out)["id"]
                    root.run("detach", link)
                root.run("unload", prog_id)
            except Exception as exc:
                with lock:
                    errors.append(f"cli: {exc!r}")

        threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
        threads.append(threading.Thread(target=cli))
        for t in threads:
            t.start()
        for t in threads:
            t.join(600)
        assert not errors, "\n".join(errors)
        assert svc.stub.List(pb.ListRequest(bpfman_programs_only=True)).results == []
        assert "Traceback" not in svc.logs()
    assert len(seen) == CLIENTS * ROUNDS
    assert root.json("list", "programs") == []
    assert root.json("list", "links") == []
    links: Any = subprocess.run(
        [*BPFMAN, "list", "links"], env=root.env, cwd=REPO, capture_output=True, text=True
    )
    assert links.returncode == 0
    assert not list((root.path / "fs" / "links").glob("*"))
    assert not [p for p in root.path.joinpath("fs").glob("prog_*")]
    maps = root.path / "fs" / "maps"
    assert not maps.exists() or not list(maps.iterdir())
    assert eventually(lambda: not (prog_ids() - before) & seen)
