"""The service's life: socket activation, idle timeout, SIGTERM with a request in
flight, the socket's permissions and refusals, logging."""

from __future__ import annotations

import contextlib
import ctypes
import os
import platform
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from tests.helpers.root import REPO, Root
from tests.helpers.service import SERVICE, Service, file_load, pb, running_service
from tests.helpers.wait import eventually

SYS_TGKILL = {"x86_64": 234, "aarch64": 131}[platform.machine()]


@pytest.fixture
def workdir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="bpfman-svc-life-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def stub(path: Path) -> Any:
    from bpfman.service import bpfman_pb2_grpc

    channel = grpc.insecure_channel(f"unix:{path}")
    return bpfman_pb2_grpc.BpfmanStub(channel)  # type: ignore[no-untyped-call]


def run_service(root: Root, *args: str, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SERVICE, *args], env=root.env, cwd=REPO, capture_output=True, text=True, timeout=timeout
    )


def one_error_line(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode != 0, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1, proc.stderr
    return errors[0]


def test_socket_activation_serves_the_inherited_socket_then_idles_out(
    root: Root, workdir: Path
) -> None:
    sock = workdir / "activated.sock"
    log = workdir / "log"
    command = [
        "systemd-socket-activate", "-l", str(sock), "-E", f"BPFMAN_ROOT={root.path}",
        "-E", f"PYTHONPATH={REPO}", "--", *SERVICE, "--timeout", "2",
    ]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        assert eventually(sock.exists, timeout=10)
        client = stub(sock)
        [loaded] = client.Load(
            file_load(
                REPO / "build/bpf/tracepoint_counter.bpf.o",
                (pb.TRACEPOINT, "tracepoint_counter"),
            )
        ).programs
        assert [
            r.kernel_info.id for r in client.List(pb.ListRequest(bpfman_programs_only=True)).results
        ] == [loaded.kernel_info.id]
        started = time.monotonic()
        assert proc.wait(timeout=20) == 0, log.read_text()
        assert time.monotonic() - started >= 1.0  # it waited for the idle timeout
        text = log.read_text()
        assert "serving on the socket systemd passed" in text
        assert "idle for 2 s" in text
        assert sock.exists(), "the activated socket belongs to systemd: never removed"
        listed: Any = root.json("list", "programs")
        assert [row["id"] for row in listed] == [loaded.kernel_info.id]
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def test_idle_timeout_on_its_own_socket(root: Root) -> None:
    with running_service(root.path, "--timeout", "1") as svc:
        svc.stub.List(pb.ListRequest(bpfman_programs_only=True))
        assert svc.proc.wait(timeout=15) == 0, svc.logs()
        assert not svc.socket.exists()
        assert "idle for 1 s" in svc.logs()


def test_sigterm_lets_the_request_in_flight_finish(root: Root, objects: Path) -> None:
    """Every bpf() call is slowed down, so SIGTERM lands in the middle of a Load."""
    slow = ["strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=bpf",
            "-e", "inject=bpf:delay_enter=20000"]  # fmt: skip
    with running_service(root.path, prefix=slow) as svc:
        result: dict[str, Any] = {}

        def load() -> None:
            try:
                result["response"] = svc.stub.Load(
                    file_load(
                        objects / "tracepoint_counter.bpf.o", (pb.TRACEPOINT, "tracepoint_counter")
                    )
                )
            except grpc.RpcError as exc:
                result["error"] = exc

        thread = threading.Thread(target=load)
        thread.start()
        assert eventually(lambda: "Load from" in svc.logs(), timeout=20)
        pid = int(re.findall(r"starting \(pid (\d+)", svc.logs())[0])
        os.kill(pid, signal.SIGTERM)
        thread.join(60)
        assert "error" not in result, result.get("error")
        prog_id = result["response"].programs[0].kernel_info.id
        assert svc.proc.wait(timeout=60) == 0, svc.logs()
        logs = svc.logs()
        # the Load started, then SIGTERM came, then the Load finished
        assert logs.index("Load from uid=0") < logs.index("shutting down (SIGTERM)")
        assert logs.index("shutting down (SIGTERM)") < logs.index(": done in")
    listed: Any = root.json("list", "programs")
    assert [row["id"] for row in listed] == [prog_id]


def test_sigterm_handled_by_another_thread_stops_the_service(root: Root) -> None:
    """The kernel gives a process's signal to any thread that does not block it, e.g.
    when the main thread is in a ptrace stop (strace): the service must stop all the
    same. It sat in an hour-long wait instead (the baseline's flaky SIGTERM test)."""
    with running_service(root.path) as svc:
        svc.stub.List(pb.ListRequest())
        pid = svc.pid()
        tid = next(
            int(t)
            for t in os.listdir(f"/proc/{pid}/task")
            if int(t) != pid and not blocked(pid, int(t), signal.SIGTERM)
        )
        libc = ctypes.CDLL(None, use_errno=True)
        assert libc.syscall(SYS_TGKILL, pid, tid, signal.SIGTERM) == 0
        assert svc.proc.wait(timeout=20) == 0, svc.logs()
        assert "shutting down (SIGTERM)" in svc.logs()


def blocked(pid: int, tid: int, signum: int) -> bool:
    status = Path(f"/proc/{pid}/task/{tid}/status").read_text()
    mask = int(re.findall(r"^SigBlk:\s*([0-9a-f]+)$", status, re.M)[0], 16)
    return bool(mask & (1 << (signum - 1)))


def test_socket_mode_directory_creation_and_stale_socket(root: Root, workdir: Path) -> None:
    sock = workdir / "new" / "dir" / "bpfman.sock"
    stale = socket.socket(socket.AF_UNIX)
    sock.parent.mkdir(parents=True)
    stale.bind(str(sock))  # bound, never listening: a leftover
    stale.close()
    os.chmod(sock.parent, 0o755)
    env_path = {"--socket-path": str(sock)}
    proc = subprocess.Popen(
        [*SERVICE, *[x for kv in env_path.items() for x in kv], "--timeout", "0"],
        env=root.env, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    svc = Service(proc, sock, workdir / "none.log")
    try:
        svc.wait_ready()
        assert stat.S_IMODE(os.lstat(sock).st_mode) == 0o660
        assert stat.S_ISSOCK(os.lstat(sock).st_mode)
        # A second service on the same path is refused: the first one is alive.
        second = run_service(root, "--socket-path", str(sock))
        assert "another service is listening" in one_error_line(second)
    finally:
        assert svc.terminate() == 0
    assert not sock.exists()


def test_the_socket_path_refuses_what_others_could_tamper_with(root: Root, workdir: Path) -> None:
    regular = workdir / "plain"
    regular.mkdir()
    (regular / "bpfman.sock").write_text("not a socket")
    error = one_error_line(run_service(root, "--socket-path", str(regular / "bpfman.sock")))
    assert "exists and is not a socket" in error
    assert (regular / "bpfman.sock").read_text() == "not a socket"

    other = workdir / "other"
    other.mkdir()
    os.chown(other, 65534, 65534)
    error = one_error_line(run_service(root, "--socket-path", str(other / "bpfman.sock")))
    assert "belongs to uid 65534" in error

    link = workdir / "link"
    link.symlink_to(regular)
    error = one_error_line(run_service(root, "--socket-path", str(link / "bpfman.sock")))
    assert "symlink" in error


def test_the_directories_above_the_socket_are_checked_as_a_roots(root: Root, workdir: Path) -> None:
    """Whoever owns or may write to a directory above the socket's could rename the socket
    directory away and put their own in its place: refused, and nothing made there."""
    workdir.chmod(0o755)
    writable = workdir / "writable"
    writable.mkdir(mode=0o777)
    writable.chmod(0o777)
    error = one_error_line(run_service(root, "--socket-path", str(writable / "s" / "bpfman.sock")))
    assert error == (
        f"Error: refusing socket directory {writable}/s: {writable} is writable by group or"
        " others (mode 777), who could move what bpfman keeps there"
    )
    theirs = workdir / "theirs"
    theirs.mkdir()
    os.chown(theirs, 65534, 65534)
    error = one_error_line(run_service(root, "--socket-path", str(theirs / "s" / "bpfman.sock")))
    assert f"{theirs} belongs to uid 65534, who could move what bpfman keeps there" in error
    planted = workdir / "planted"
    planted.symlink_to(workdir / "elsewhere")
    os.lchown(planted, 65534, 65534)
    error = one_error_line(run_service(root, "--socket-path", str(planted / "s" / "bpfman.sock")))
    assert f"{planted} belongs to uid 65534, who could point it elsewhere" in error
    assert sorted(os.listdir(writable)) == sorted(os.listdir(theirs)) == []
    assert not (workdir / "elsewhere").exists()

    # a sticky directory above (/tmp), and a trusted symlink, will do; what is missing is
    # made 0755, for the socket's group to reach it
    sticky = workdir / "sticky"
    sticky.mkdir()
    sticky.chmod(0o1777)
    (workdir / "via").symlink_to(sticky)
    with running_service(root.path, socket=workdir / "via" / "a" / "b" / "bpfman.sock") as svc:
        assert svc.stub.List(pb.ListRequest(bpfman_programs_only=True)).results == []
        for made in (sticky / "a", sticky / "a" / "b"):
            assert stat.S_IMODE(os.lstat(made).st_mode) == 0o755


def test_a_directory_everyone_may_write_is_served_with_a_warning(root: Root, workdir: Path) -> None:
    shared = workdir / "shared"
    shared.mkdir()
    os.chmod(shared, 0o777)
    with running_service(root.path, socket=shared / "bpfman.sock") as svc:
        assert svc.stub.List(pb.ListRequest(bpfman_programs_only=True)).results == []
        st = os.lstat(svc.socket)
        assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (0, 0, 0o660)
        assert svc.terminate() == 0
        logs = svc.logs()
    [warning] = [line for line in logs.splitlines() if "WARNING" in line]
    assert f"{shared} is writable by everyone (mode 777)" in warning
    assert "impostor" in warning


def private_dirs(root: Root) -> list[str]:
    relay = root.path / "relay"
    return sorted(p.name for p in relay.iterdir()) if relay.exists() else []


def test_a_killed_services_private_directories_go_with_its_successor(root: Root) -> None:
    """gRPC's private sockets live under the root (<root>/relay/<server>-*, 0700), never in
    /tmp: a SIGKILLed service leaves its directories there, and the next one removes them,
    but not those of a service still running on the same root."""
    before = set(Path(tempfile.gettempdir()).glob("bpfman-rpc-*"))
    with running_service(root.path, "--csi-support") as killed:
        dead = private_dirs(root)
        assert [name.split("-")[0] for name in dead] == ["csi", "rpc"], dead
        assert all(stat.S_IMODE((root.path / "relay" / n).stat().st_mode) == 0o700 for n in dead)
        assert stat.S_IMODE((root.path / "relay").stat().st_mode) == 0o700
        os.kill(killed.pid(), signal.SIGKILL)
        killed.proc.wait(timeout=30)
    assert private_dirs(root) == dead
    assert set(Path(tempfile.gettempdir()).glob("bpfman-rpc-*")) == before

    with running_service(root.path) as first:
        [live] = private_dirs(root)
        assert live not in dead
        other = root.path / "other.sock"
        with running_service(root.path, socket=other) as second:
            assert second.stub.List(pb.ListRequest()).results is not None
            assert live in private_dirs(root) and len(private_dirs(root)) == 2
            assert first.stub.List(pb.ListRequest()).results is not None  # untouched
        assert private_dirs(root) == [live]
    assert private_dirs(root) == []


def test_a_root_too_long_for_the_private_sockets_is_refused_in_one_line(workdir: Path) -> None:
    """A Unix socket's path holds 107 bytes: the service says so and leaves nothing."""
    root = Root(workdir / ("r" * 90))
    sock = workdir / "bpfman.sock"
    try:
        error = one_error_line(run_service(root, "--socket-path", str(sock)))
        assert "is too long for the service's private sockets" in error, error
        assert error.endswith("at most 107): choose a shorter root")
        assert not sock.exists() and private_dirs(root) == []
    finally:
        root.cleanup()


def test_sigterm_with_an_idle_connection_open_still_exits(root: Root) -> None:
    """gRPC's graceful stop waits for every connection to go: one that sends nothing
    and never closes held the service up for ever after SIGTERM."""
    with running_service(root.path) as svc:
        idle = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            idle.connect(str(svc.socket))
            assert svc.stub.List(pb.ListRequest()).results is not None
            os.kill(svc.pid(), signal.SIGTERM)
            assert svc.proc.wait(timeout=30) == 0, svc.logs()
        finally:
            idle.close()
        assert "stopped" in svc.logs()


def test_bad_options_are_one_line(root: Root) -> None:
    assert "--timeout" in one_error_line(run_service(root, "--timeout", "-3"))
    rpc = subprocess.run(
        [sys.executable, "-m", "bpfman.cli.rpc", "--timeout", "soon"],
        env=root.env, cwd=REPO, capture_output=True, text=True,
    )  # fmt: skip
    assert "--timeout" in one_error_line(rpc)


def test_csi_support_is_accepted_and_verbose_logs_debug(root: Root) -> None:
    with running_service(root.path, "--csi-support", "-v") as svc:
        svc.stub.List(pb.ListRequest())
        assert svc.terminate() == 0
        logs = svc.logs()
    assert f"serving CSI driver csi.bpfman.io on {root.path}/csi/csi.sock" in logs
    assert "DEBUG bpfman.service: List from uid=0" in logs


@pytest.mark.parametrize(
    ("rust_log", "config", "args", "debug", "info"),
    [
        ("debug", None, (), True, True),  # as bpfman-operator passes it
        ("bpfman=debug,warn", "error", (), True, True),  # over the config file
        ("warn", "debug", (), False, False),
        ("bpfman.csi=debug", None, (), False, False),  # the rest is off
        ("warn", None, ("-v",), True, True),  # -v wins
        (None, "debug", (), True, True),
    ],
)
def test_rust_log_sets_the_level_between_v_and_the_config_file(
    root: Root, rust_log: str | None, config: str | None, args: tuple[str, ...], debug: bool,
    info: bool,
) -> None:  # fmt: skip
    if config is not None:
        root.path.mkdir(parents=True, exist_ok=True)
        (root.path / "bpfman.toml").write_text(f'[logging]\nlevel = "{config}"\n')
    env = {"RUST_LOG": rust_log} if rust_log is not None else {}
    with running_service(root.path, *args, env=env) as svc:
        svc.stub.List(pb.ListRequest())
        assert svc.terminate() == 0
        logs = svc.logs()
    assert ("DEBUG bpfman.service: List from uid=0" in logs) is debug, logs
    assert ("INFO bpfman.service: serving on" in logs) is info, logs


def test_bpfman_rpc_is_the_same_service(root: Root) -> None:
    command = [sys.executable, "-m", "bpfman.cli.rpc"]
    with running_service(root.path, command=command) as svc:
        assert svc.stub.List(pb.ListRequest(bpfman_programs_only=True)).results == []


def test_the_service_serves_metrics_from_its_own_process(root: Root, objects: Path) -> None:
    """``--metrics-address``: /metrics of the programs loaded through the service."""
    import re
    import urllib.request

    from tests.helpers.service import file_load, pb

    with running_service(root.path, "--metrics-address", "127.0.0.1:0") as svc:
        request = file_load(
            objects / "tracepoint_counter.bpf.o", (pb.TRACEPOINT, "tracepoint_counter")
        )
        [loaded] = svc.stub.Load(request).programs
        found = re.search(r"serving metrics at (http://\S+/metrics)", svc.logs())
        assert found, svc.logs()
        with urllib.request.urlopen(found.group(1), timeout=10) as response:
            text = response.read().decode()
        assert f'id="{loaded.kernel_info.id}"' in text
        svc.stub.Unload(pb.UnloadRequest(id=loaded.kernel_info.id))
    assert "--metrics-address" in root.fail("system", "service", "--metrics-address", "nope")
