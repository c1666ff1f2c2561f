"""uprobe -c: targets that exist only inside a container's mount namespace.

The "container" (tests/helpers/container.py) has a tmpfs over /opt holding a copy
of libc as /opt/bpfman-ctr/lib/libdemo.so, and its own /etc/ld.so.cache in which
``libc`` is a symlink to that copy. The host has neither, and the container cannot
see bpfman's root or code. Only with ``-c PID`` can bpfman resolve the target, read its
symbols and open the perf event on it. ``target_pid`` is the container's pid, and
the probed file is mapped by the container alone, so the counts are exact.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.bpftool import links_of, map_values, prog_ids
from tests.helpers.container import CTR_DIR, CTR_LIB, CTR_LIBC_LINK, Container, mountns_alive
from tests.helpers.root import BPFMAN, REPO, Root, le32
from tests.helpers.wait import eventually

CALLS = 25


@pytest.fixture
def container(root: Root) -> Iterator[Container]:
    c = Container(hide=(str(root.path),))
    try:
        yield c
    finally:
        c.close()
        assert eventually(lambda: not mountns_alive(c.mountns)), "container namespace survived"


def load_counter(root: Root, objects: Path, pid: int) -> tuple[int, str]:
    """Load uprobe_counter counting only pid's calls; return its id and counts pin."""
    prog_id = root.load_id(
        objects / "uprobe_counter.bpf.o",
        "--programs",
        "uprobe:uprobe_counter",
        "-g",
        f"target_pid={le32(pid)}",
    )
    return prog_id, str(root.maps(prog_id) / "counts")


def no_links_left(root: Root, *prog: int) -> None:
    assert root.json("list", "links") == []
    links = root.path / "fs" / "links"
    assert not links.exists() or list(links.iterdir()) == []
    assert links_of(*prog) == []


def detach_and_unload(
    root: Root, container: Container, prog_id: int, link_id: int, pin: str
) -> None:
    """After detach the container's calls no longer count; then nothing is left."""
    root.run("detach", link_id)
    assert eventually(lambda: not links_of(prog_id))
    before = map_values(pin)
    container.call_getpid(CALLS)
    assert map_values(pin) == before
    no_links_left(root, prog_id)
    root.run("unload", prog_id)
    assert eventually(lambda: prog_id not in prog_ids())


def test_uprobe_path_only_in_container(root: Root, objects: Path, container: Container) -> None:
    assert container.sees(CTR_LIB)
    assert not Path(CTR_DIR).exists(), f"{CTR_DIR} must exist only in the container"
    prog_id, pin = load_counter(root, objects, container.pid)

    # Without -c the path is looked up on the host, where it does not exist.
    message = root.fail("attach", prog_id, "uprobe", "-t", CTR_LIB, "-f", "getpid")
    assert CTR_LIB in message
    no_links_left(root, prog_id)

    link = root.attach(prog_id, "uprobe", "-t", CTR_LIB, "-f", "getpid", "-c", container.pid)
    assert link["attachment"] == f"{CTR_LIB} getpid"
    assert links_of(prog_id) != []
    container.call_getpid(CALLS)
    assert map_values(pin) == {0: CALLS, 1: 0}

    shown = root.run("get", "link", link["id"]).stdout
    assert f" Target:           {CTR_LIB}" in shown
    assert " Attach Function:  getpid" in shown
    assert " PID:              None" in shown
    assert f" Container PID:    {container.pid}" in shown

    detach_and_unload(root, container, prog_id, link["id"], pin)


def test_uprobe_library_name_from_container_ld_cache(
    root: Root, objects: Path, container: Container
) -> None:
    # glibc itself, inside the container, resolves libc.so.6 to the copy first.
    cached = container.run_inside("ldconfig", "-p")
    libc_lines = [line for line in cached.splitlines() if line.strip().startswith("libc.so.6 ")]
    assert libc_lines and libc_lines[0].endswith(f"=> {CTR_LIBC_LINK}"), cached
    prog_id, pin = load_counter(root, objects, container.pid)

    link = root.attach(prog_id, "uprobe", "-t", "libc", "-f", "getpid", "-c", container.pid)
    assert link["attachment"] == "libc getpid"
    container.call_getpid(CALLS)
    assert map_values(pin) == {0: CALLS, 1: 0}  # the host's libc would have counted none

    shown = root.run("get", "link", link["id"]).stdout
    assert " Target:           libc" in shown
    assert f" Container PID:    {container.pid}" in shown

    detach_and_unload(root, container, prog_id, link["id"], pin)


def test_uprobe_container_pid_that_does_not_exist(root: Root, objects: Path) -> None:
    prog_id, _ = load_counter(root, objects, 0)
    gone = int(Path("/proc/sys/kernel/pid_max").read_text()) + 1  # no process can have it
    message = root.fail("attach", prog_id, "uprobe", "-t", "libc", "-f", "getpid", "-c", gone)
    assert str(gone) in message
    no_links_left(root, prog_id)


# Run as bpfman runs in bpfman-operator's pod: a pid namespace of its own (its /proc
# shows only itself) with the host's /proc mounted elsewhere ($1; /host/proc there).
_POD = """
set -e
host=$1; shift
mount --rbind /proc "$host"
mount -t proc proc /proc
exec "$@"
"""


def test_uprobe_container_pid_through_the_hosts_proc(
    root: Root, objects: Path, container: Container, tmp_path: Path
) -> None:
    """A container pid is the host's: without the host's pid namespace bpfman finds it
    under the host's /proc mounted in the pod (BPFMAN_HOST_PROC, default /host/proc)."""
    prog_id, pin = load_counter(root, objects, container.pid)
    host_proc = tmp_path / "host-proc"
    host_proc.mkdir()
    pod = ["unshare", "--pid", "--fork", "--mount", "--propagation", "private",
           "sh", "-c", _POD, "sh", str(host_proc), *BPFMAN]  # fmt: skip
    attach = ["attach", str(prog_id), "uprobe", "-t", CTR_LIB, "-f", "getpid",
              "-c", str(container.pid), "--output", "json"]  # fmt: skip
    env = {**root.env, "BPFMAN_HOST_PROC": "/nonexistent"}
    lost = subprocess.run([*pod, *attach], env=env, capture_output=True, text=True, cwd=REPO)
    assert lost.returncode != 0 and f"no process with pid {container.pid}" in lost.stderr
    no_links_left(root, prog_id)

    env["BPFMAN_HOST_PROC"] = str(host_proc)
    found = subprocess.run([*pod, *attach], env=env, capture_output=True, text=True, cwd=REPO)
    assert found.returncode == 0, found.stderr
    link = json.loads(found.stdout)
    container.call_getpid(CALLS)
    assert map_values(pin) == {0: CALLS, 1: 0}
    detach_and_unload(root, container, prog_id, link["id"], pin)
