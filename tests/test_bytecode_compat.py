"""Bytecode written for the reference bpfman, and what bpfman shows of it.

- Programs declared ``static`` (libbpf alone refuses them) load from a file
  and from an image.
- Maps declared ``LIBBPF_PIN_BY_NAME`` are pinned under the program's map
  pin path, whether or not a bpffs is mounted at /sys/fs/bpf, and nothing
  appears there; sharing them with ``--map-owner-id`` reuses the owner's map.
- Function names are shown in full (the kernel keeps 15 characters).
- A malformed ``--registry-auth`` is refused before it could be used.

The /sys/fs/bpf cases run in a private mount namespace (``unshare -m``), so
mounting or unmounting a bpffs there never touches the host's.
"""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from bpfman import kernel
from bpfman.core.bpffs import Layout
from bpfman.errors import InvalidInputError
from bpfman.images import BytecodeSources, ImageSettings, ImageStore, PullPolicy
from bpfman.images.build import build_native
from bpfman.kernel.statics import globalize_static_programs
from tests.helpers.bpftool import find_map_id, map_values, prog_show
from tests.helpers.registry import Registry, infer_type
from tests.helpers.root import BPFMAN, REPO, Root, le32, load_counter
from tests.helpers.service import pb, running_service

KILL = "tracepoint_kill_recorder"  # static in bpf/kill_recorder.bpf.c; 24 characters
KILL_TP = "syscalls/sys_enter_kill"
COUNTER = "tracepoint_counter"  # bpf/tracepoint_counter.bpf.c; the kernel keeps "tracepoint_coun"
MALFORMED = "registry auth must be base64 of 'user:password'"


def _kill_self(times: int) -> None:
    for _ in range(times):
        os.kill(os.getpid(), 0)


def _push(registry: Registry, objects: Path, name: str) -> str:
    """``bpf/NAME.bpf.c``'s object as an image in the loopback registry; its tag."""
    tag = f"{registry.host}/compat/{name}:v1"
    build_native(
        BytecodeSources(bytecode=str(objects / f"{name}.bpf.o")),
        tag,
        ImageSettings(insecure_registries=(registry.host,)),
        infer_type,
        auth=registry.auth,
    )
    return tag


@pytest.fixture(scope="module")
def kill_image(registry: Registry, objects: Path) -> str:
    return _push(registry, objects, "kill_recorder")


@pytest.fixture(scope="module")
def counter_image(registry: Registry, objects: Path) -> str:
    return _push(registry, objects, "tracepoint_counter")


@pytest.fixture
def image_root(root: Root, registry: Registry) -> Root:
    root.path.mkdir(parents=True, exist_ok=True)
    (root.path / "bpfman.toml").write_text(f'[images]\ninsecure_registries = ["{registry.host}"]\n')
    return root


def _attach_and_count(root: Root, prog: int) -> None:
    """Attach the kill recorder, send five signals, read its pinned-by-name map."""
    root.attach(prog, "tracepoint", "-t", KILL_TP)
    _kill_self(5)
    assert map_values(str(root.maps(prog) / "kill_counts")) == {0: 5}


# -- static programs ----------------------------------------------------------------
def test_static_program_loads_from_a_file(root: Root, objects: Path) -> None:
    [loaded] = root.load(
        objects / "kill_recorder.bpf.o",
        "--programs",
        f"tracepoint:{KILL}",
        "-g",
        f"target_pid={le32(os.getpid())}",
    )
    assert loaded["bpfman"]["function"] == KILL
    assert prog_show(loaded["id"])["type"] == "tracepoint"
    _attach_and_count(root, loaded["id"])


def test_static_program_loads_from_an_image(
    image_root: Root, registry: Registry, kill_image: str
) -> None:
    root = image_root
    [loaded] = root.json(
        "load",
        "image",
        "-i",
        kill_image,
        "-r",
        registry.auth,
        "-g",
        f"target_pid={le32(os.getpid())}",
        "--programs",
        f"tracepoint:{KILL}",
    )
    assert loaded["bpfman"]["source"]["image_url"] == kill_image
    assert loaded["bpfman"]["function"] == KILL
    _attach_and_count(root, loaded["id"])


def test_the_static_rewrite_touches_one_byte_and_never_fails(objects: Path) -> None:
    data = (objects / "kill_recorder.bpf.o").read_bytes()
    patched = globalize_static_programs(data)
    assert patched is not None and len(patched) == len(data)
    assert sum(a != b for a, b in zip(data, patched, strict=True)) == 1
    assert globalize_static_programs(patched) is None  # nothing static is left
    assert globalize_static_programs((objects / "tracepoint_counter.bpf.o").read_bytes()) is None
    # Cut or scribbled on, an object is left to libbpf (None) or rewritten in place.
    rng = random.Random(19)
    for cut in range(0, len(data), 61):
        assert globalize_static_programs(data[:cut]) is None  # the headers come last
    for _ in range(300):
        mangled = bytearray(data)
        for _ in range(4):
            mangled[rng.randrange(len(mangled))] = rng.randrange(256)
        result = globalize_static_programs(bytes(mangled))
        assert result is None or len(result) == len(data)


# -- maps pinned by name ------------------------------------------------------------
# Run inside `unshare -m`: put /sys/fs/bpf in the wanted state ($1: mounted or
# absent), then load an owner and a sharer of its maps; what /sys/fs/bpf held
# before and after goes to $OUT.
UNSHARE = ["unshare", "--mount", "--propagation", "private"]
_NAMESPACE_SCRIPT = r"""
set -e
fstype() { stat -f -c %T /sys/fs/bpf; }
if [ "$1" = mounted ]; then
    [ "$(fstype)" = bpf_fs ] || mount -t bpf bpf /sys/fs/bpf
else
    while [ "$(fstype)" = bpf_fs ]; do umount /sys/fs/bpf; done
fi
fstype > "$OUT/fstype"
ls -A /sys/fs/bpf > "$OUT/before"
"$PY" -m bpfman load file -p "$OBJ" --programs tracepoint:pinned_counter -o json > "$OUT/owner"
owner=$("$PY" -c 'import json, sys; print(json.load(sys.stdin)[0]["id"])' < "$OUT/owner")
"$PY" -m bpfman load file -p "$OBJ" --programs tracepoint:pinned_counter \
    --map-owner-id "$owner" -o json > "$OUT/sharer"
ls -A /sys/fs/bpf > "$OUT/after"
"""


@pytest.mark.parametrize("sys_fs_bpf", ["mounted", "absent"])
def test_maps_pinned_by_name_live_under_the_map_pin_path(
    root: Root, objects: Path, tmp_path: Path, sys_fs_bpf: str
) -> None:
    # The root's bpffs is mounted out here first, so the namespace shares it.
    root.run("system", "recover")
    env = {
        **root.env,
        "OUT": str(tmp_path),
        "PY": BPFMAN[0],
        "OBJ": str(objects / "pinned_counter.bpf.o"),
    }
    proc = subprocess.run(
        [*UNSHARE, "sh", "-c", _NAMESPACE_SCRIPT, "sh", sys_fs_bpf],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    wanted = "bpf_fs" if sys_fs_bpf == "mounted" else "sysfs"
    assert (tmp_path / "fstype").read_text().strip() == wanted
    assert (tmp_path / "after").read_text() == (tmp_path / "before").read_text()

    [owner] = json.loads((tmp_path / "owner").read_text())
    [sharer] = json.loads((tmp_path / "sharer").read_text())
    map_dir = root.maps(owner["id"])
    assert owner["bpfman"]["map_pin_path"] == sharer["bpfman"]["map_pin_path"] == str(map_dir)
    assert sharer["bpfman"]["map_owner_id"] == owner["id"]
    # The pin is the owner's map, and the sharer runs with that very map.
    map_id = find_map_id(owner["id"], "pinned_counts")
    assert map_id == find_map_id(sharer["id"], "pinned_counts")
    assert map_values(str(map_dir / "pinned_counts")) == map_values(map_id)

    root.run("unload", owner["id"])
    assert (map_dir / "pinned_counts").exists()  # the sharer still uses it
    root.run("unload", sharer["id"])
    assert not map_dir.exists()


# -- full function names ------------------------------------------------------------
def _cells(text: str, prog: int) -> list[str]:
    """The cells of the table row whose first cell is ``prog``."""
    rows = [line.split() for line in text.splitlines()[1:]]
    return next(row for row in rows if row[0] == str(prog))


def test_full_function_names_are_shown(root: Root, objects: Path, foreign: int) -> None:
    prog = load_counter(root, objects)
    with kernel.prog_fd_by_id(prog) as fd:
        assert kernel.prog_info(fd.fd).name == COUNTER[:15]  # what the kernel keeps
    assert prog_show(prog)["name"] == COUNTER  # bpftool reads the rest from BTF
    link = root.attach(prog, "tracepoint", "-t", "syscalls/sys_enter_getppid")

    # `list programs` of bpfman's own programs: the record's name, no BTF read.
    trace = root.path / "list.strace"
    proc = subprocess.run(
        ["strace", "-f", "-qq", "-e", "trace=bpf", "-o", str(trace), *BPFMAN, "list", "programs"],
        env=root.env,
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    assert COUNTER in _cells(proc.stdout, prog)
    assert "BPF_BTF_GET_FD_BY_ID" not in trace.read_text()
    [row] = root.json("list", "programs")
    assert row["function"] == COUNTER

    assert COUNTER in _cells(root.run("list", "links").stdout, prog)
    [link_row] = root.json("list", "links")
    assert (link_row["id"], link_row["function"]) == (link["id"], COUNTER)

    text = root.run("get", "program", prog).stdout
    functions = [
        line.split(":", 1)[1].strip() for line in text.splitlines() if "BPF Function:" in line
    ]
    assert functions == [COUNTER, COUNTER]  # Bpfman State and Kernel State
    details = root.json("get", "program", prog)
    assert details["bpfman"]["function"] == details["kernel"]["name"] == COUNTER

    # Programs bpfman did not load (bpftool loaded this one): the name from their BTF.
    assert COUNTER in _cells(root.run("list", "programs", "--all").stdout, foreign)
    rows = {r["id"]: r for r in root.json("list", "programs", "--all")}
    assert rows[foreign]["function"] == COUNTER
    assert rows[prog]["function"] == COUNTER
    assert root.json("get", "program", foreign)["kernel"]["name"] == COUNTER

    with running_service(root.path) as svc:
        assert svc.stub.Get(pb.GetRequest(id=prog)).kernel_info.name == COUNTER
        listed = svc.stub.List(pb.ListRequest(bpfman_programs_only=False)).results
        names = {r.kernel_info.id: r.kernel_info.name for r in listed}
        assert (names[prog], names[foreign]) == (COUNTER, COUNTER)


def test_an_adopted_program_is_recorded_with_its_full_name(root: Root, objects: Path) -> None:
    prog = load_counter(root, objects)
    (root.path / "db" / "data.mdb").unlink()  # a lost store: rebuilt from the pins
    root.run("system", "recover", "--adopt")
    [row] = root.json("list", "programs")
    assert (row["id"], row["function"]) == (prog, COUNTER)


# -- --registry-auth ------------------------------------------------------------------
@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A listening loopback port; a test checks that nothing connected to it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        sock.setblocking(False)
        yield sock


def _connected(sock: socket.socket) -> bool:
    try:
        sock.accept()[0].close()
    except BlockingIOError:
        return False
    return True


def test_malformed_registry_auth_is_refused_before_use(
    image_root: Root, registry: Registry, counter_image: str, listener: socket.socket
) -> None:
    root = image_root
    root.run("image", "pull", "-i", counter_image, "-r", registry.auth)  # now cached
    # Not base64; base64 of "Invalid"; empty; base64 of "user" (no colon); not ASCII.
    for bad in ("Invalid", "SW52YWxpZA==", "", "dXNlcg==", "é"):
        assert root.fail("image", "pull", "-i", counter_image, "-r", bad) == f"Error: {MALFORMED}"
        for policy in ("IfNotPresent", "Never"):
            error = root.fail(
                "load", "image", "-i", counter_image, "-r", bad, "-p", policy,
                "--programs", f"tracepoint:{COUNTER}",
            )  # fmt: skip
            assert error == f"Error: {MALFORMED}"
    assert root.json("list", "programs") == []

    # Refused before any connection: a registry that would answer never hears of it.
    port = listener.getsockname()[1]
    (root.path / "bpfman.toml").write_text(
        f'[images]\ninsecure_registries = ["{registry.host}", "127.0.0.1:{port}"]\n'
    )
    assert root.fail("image", "pull", "-i", f"127.0.0.1:{port}/x:v1", "-r", "Invalid", "-p",
                     "Always") == f"Error: {MALFORMED}"  # fmt: skip
    assert not _connected(listener)

    # The library refuses it the same way, cached image or not.
    store = ImageStore(
        Layout(root.path).images, ImageSettings(insecure_registries=(registry.host,))
    )
    with pytest.raises(InvalidInputError, match=MALFORMED):
        store.pull(counter_image, PullPolicy.IF_NOT_PRESENT, "Invalid")
    with root.manager() as mgr, pytest.raises(InvalidInputError, match=MALFORMED):
        mgr.load_image(counter_image, [f"tracepoint:{COUNTER}"], registry_auth="Invalid")


def test_grpc_refuses_credentials_that_have_no_user_password_form(
    image_root: Root, registry: Registry, counter_image: str
) -> None:
    root = image_root
    root.run("image", "pull", "-i", counter_image, "-r", registry.auth)  # now cached
    # A colon in the user name would be read as the start of the password.
    image = pb.BytecodeImage(url=counter_image, username=f"{registry.user}:x", password="y")
    with running_service(root.path) as svc:
        with pytest.raises(grpc.RpcError) as pulled:
            svc.stub.PullBytecode(pb.PullBytecodeRequest(image=image))
        assert pulled.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "user name cannot contain ':'" in str(pulled.value.details())
        request = pb.LoadRequest(
            bytecode=pb.BytecodeLocation(image=image),
            info=[pb.LoadInfo(name=COUNTER, program_type=pb.TRACEPOINT)],
        )
        with pytest.raises(grpc.RpcError) as loaded:
            svc.stub.Load(request)
        assert loaded.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert root.json("list", "programs") == []
