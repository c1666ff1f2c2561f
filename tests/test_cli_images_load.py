"""`bpfman load image` end to end: a native-built image in a real loopback
registry, pulled and loaded into the kernel, then attached and counted.

The image is the guide's multi-program shape: one object with a program of
every type sharing one map, loaded by one command so the maps are shared.
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import pytest

from bpfman.images import BytecodeSources, ImageSettings
from bpfman.images.build import build_native
from tests.helpers.bpftool import map_values, prog_show
from tests.helpers.chains import attach_tcx
from tests.helpers.net import VethPair
from tests.helpers.registry import Registry, infer_type
from tests.helpers.root import Root

# The guide's `--programs kprobe:… tracepoint:… tc:… tcx:… uprobe:… xdp:…` load.
PROGRAMS = [
    "kprobe:kprobe_counter",
    "tracepoint:tracepoint_kill_recorder",
    "tc:stats",
    "tcx:tcx_stats",
    "uprobe:uprobe_counter",
    "xdp:xdp_stats",
]
TRACEPOINT, TC, TCX, UPROBE, XDP = 1, 2, 3, 4, 5


@pytest.fixture(scope="module")
def image(registry: Registry, objects: Path) -> str:
    tag = f"{registry.host}/bpfman/app-counter:v1"
    build_native(
        BytecodeSources(bytecode=str(objects / "app_counter.bpf.o")),
        tag,
        ImageSettings(insecure_registries=(registry.host,)),
        infer_type,
        auth=registry.auth,
    )
    return tag


@pytest.fixture
def image_root(root: Root, registry: Registry) -> Root:
    root.path.mkdir(parents=True, exist_ok=True)
    (root.path / "bpfman.toml").write_text(f'[images]\ninsecure_registries = ["{registry.host}"]\n')
    return root


def _libc_getpid(count: int) -> int:
    import ctypes

    libc = ctypes.CDLL("libc.so.6")
    for _ in range(count):
        libc.getpid()
    return count


def test_multi_program_image_loads_as_one_and_runs(
    image_root: Root, registry: Registry, image: str
) -> None:
    root = image_root
    pid = struct.pack("<I", os.getpid()).hex()
    loaded = root.json(
        "load",
        "image",
        "-i",
        image,
        "-r",
        registry.auth,
        "-g",
        f"target_pid={pid}",
        "-a",
        "go-app",
        "--programs",
        *PROGRAMS,
    )
    assert isinstance(loaded, list) and len(loaded) == len(PROGRAMS)
    ids = {p["bpfman"]["function"]: p["id"] for p in loaded}
    for program in loaded:
        bpfman = program["bpfman"]
        assert bpfman["source"]["image_url"] == image
        assert bpfman["source"]["pull_policy"] == "IfNotPresent"
        assert bpfman["map_pin_path"] == loaded[0]["bpfman"]["map_pin_path"]
    map_ids = {frozenset(prog_show(i)["map_ids"]) for i in ids.values()}
    assert len(map_ids) == 1, "one load command shares its maps"

    text = root.run("get", "program", ids["tracepoint_kill_recorder"]).stdout
    assert f" Image URL:     {image}" in text and " Pull Policy:   IfNotPresent" in text

    hits = root.maps(loaded[0]["id"]) / "hits"
    root.run(
        "attach", ids["tracepoint_kill_recorder"], "tracepoint", "-t", "syscalls/sys_enter_kill"
    )
    root.run("attach", ids["uprobe_counter"], "uprobe", "-t", "libc", "-f", "getpid")
    for _ in range(5):
        os.kill(os.getpid(), 0)
    before = map_values(str(hits))[UPROBE]
    _libc_getpid(9)
    getpid_hits = map_values(str(hits))[UPROBE] - before
    with VethPair() as pair:
        attach_tcx(root, ids["tcx_stats"], pair.if_b, pair.netns_path_b, 10)
        pair.send_udp(6)
        assert pair.udp_received(4242, 6) == 6
        values = map_values(str(hits))
        assert values[TCX] >= 6
    assert values[TRACEPOINT] == 5
    assert getpid_hits == 9

    listed = root.run("list", "programs", "--application", "go-app").stdout
    assert all(str(i) in listed for i in ids.values())
    for i in ids.values():
        root.run("unload", i)
    assert not hits.parent.exists()


def test_cached_image_loads_with_never_and_wrong_function_is_named(
    image_root: Root, registry: Registry, image: str
) -> None:
    root = image_root
    root.run("image", "pull", "-i", image, "-r", registry.auth)
    [loaded] = json.loads(
        root.run(
            "load",
            "image",
            "-i",
            image,
            "-p",
            "Never",
            "--programs",
            "tracepoint:tracepoint_kill_recorder",
            "-o",
            "json",
        ).stdout
    )
    assert loaded["bpfman"]["source"]["pull_policy"] == "Never"
    line = root.fail("load", "image", "-i", image, "-p", "Never", "--programs", "xdp:no_such_fn")
    assert "no_such_fn" in line and "xdp_stats" in line
    root.run("unload", loaded["id"])
    assert root.json("list", "programs") == []


@pytest.mark.vm
def test_multi_program_image_kprobe_and_dispatchers_in_vm(
    image_root: Root, registry: Registry, image: str, tmp_path: Path
) -> None:
    """The types the host kernel cannot run: kprobe, and xdp/tc through dispatchers."""
    from bpfman.core.manager import Bpfman

    mgr = Bpfman(image_root.path)
    try:
        pid = {"target_pid": struct.pack("<I", os.getpid())}
        loaded = mgr.load_image(image, PROGRAMS, registry_auth=registry.auth, globals=pid)
        ids = {p.name: p.id for p in loaded}
        hits = image_root.maps(loaded[0].id) / "hits"
        mgr.attach(ids["kprobe_counter"], {"fn_name": "do_unlinkat"})
        for i in range(4):
            victim = tmp_path / f"victim-{i}"
            victim.write_text("x")
            victim.unlink()
        assert map_values(str(hits))[0] == 4
        with VethPair() as pair:
            where = {"iface": pair.if_b, "priority": 10, "netns": pair.netns_path_b}
            xdp = mgr.attach(ids["xdp_stats"], where)
            tc = mgr.attach(ids["stats"], {**where, "direction": "ingress"})
            assert mgr.get_link(xdp.id).link.params["dispatch"] == "freplace"
            assert mgr.get_link(tc.id).link.params["dispatch"] == "freplace"
            pair.send_udp(5)
            assert pair.udp_received(4242, 5) == 5
            values = map_values(str(hits))
            assert values[XDP] >= 5 and values[TC] >= 5
        for program in loaded:
            mgr.unload(program.id)
        assert mgr.list_programs() == []
    finally:
        mgr.close()
