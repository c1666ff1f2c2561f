"""Prove the test programs and helpers work before other tests rely on them.

Programs are loaded with bpftool and attached with bpftool, tc and a raw TCX
link, independently of bpfman, then checked with real packets and map reads.
"""

from __future__ import annotations

import ctypes
import os
import pathlib
import socket
import struct

import pytest

from tests.helpers import bpftool, build, net, run

CHAIN_PORT = 4242
BPF_TCX_INGRESS = 46
BPF_F_BEFORE = 1 << 3


def load(obj: str, bpffs: pathlib.Path) -> tuple[pathlib.Path, pathlib.Path]:
    """bpftool prog loadall OBJ with maps pinned; returns (progs dir, maps dir)."""
    progs, maps = bpffs / f"{obj}_progs", bpffs / f"{obj}_maps"
    progs.mkdir()
    maps.mkdir()
    run(
        ["bpftool", "prog", "loadall", str(build.bpf_object(obj)), str(progs), "pinmaps", str(maps)]
    )
    return progs, maps


def pinned_prog_id(path: pathlib.Path) -> int:
    return int(bpftool.bpftool("prog", "show", "pinned", str(path))["id"])


def udp_frame(dport: int) -> bytes:
    """An Ethernet/IPv4/UDP frame to dport (checksums are not checked by the programs)."""
    payload = b"selftest"
    udp = struct.pack("!HHHH", 40000, dport, 8 + len(payload), 0) + payload
    src, dst = bytes([10, 199, 0, 1]), bytes([10, 199, 0, 2])
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0, src, dst)
    eth = bytes.fromhex("02bf0000000202bf000000010800")
    return eth + ip + udp


def prog_run(prog: pathlib.Path, frame: bytes, tmp_path: pathlib.Path) -> int:
    """BPF_PROG_TEST_RUN one frame through prog; returns the verdict as signed 32-bit."""
    data = tmp_path / "frame.bin"
    data.write_bytes(frame)
    out = bpftool.bpftool("prog", "run", "pinned", str(prog), "data_in", str(data))
    retval = int(out["retval"]) & 0xFFFFFFFF
    return retval - (1 << 32) if retval >= 1 << 31 else retval


def test_every_object_builds() -> None:
    names = {p.name for p in build.bpf_objects().glob("*.bpf.o")}
    expected = ["tracepoint_counter", "kprobe_counter", "uprobe_counter", "fentry_counter"]
    expected += ["tcx_chain", "tc_chain", "xdp_chain", "multi"]
    assert {f"{n}.bpf.o" for n in expected} <= names
    assert build.bpf_object("tcx_chain") == build.bpf_objects() / "tcx_chain.bpf.o"


@pytest.mark.parametrize("obj", ["tracepoint_counter", "kprobe_counter", "uprobe_counter"])
def test_counter_programs_load_with_settable_globals(obj: str, bpffs: pathlib.Path) -> None:
    progs, maps = load(obj, bpffs)
    for prog in progs.iterdir():
        prog_id = pinned_prog_id(prog)
        assert prog_id in bpftool.prog_ids()
        counts_id = bpftool.find_map_id(prog_id, "counts")
        assert counts_id in bpftool.map_ids_of_prog(prog_id)
        assert bpftool.map_values(counts_id) == bpftool.map_values(str(maps / "counts"))
    rodata = next(p for p in maps.iterdir() if p.name.endswith("_rodata"))
    dump = bpftool.bpftool("map", "dump", "pinned", str(rodata))
    globals_ = {k: v for d in dump[0]["formatted"]["value"][".rodata"] for k, v in d.items()}
    assert globals_["target_pid"] == 0
    if obj == "tracepoint_counter":
        assert globals_["increment"] == 1
        assert bpftool.map_values(str(maps / "counts")) == {0: 0}
    else:
        assert bpftool.map_values(str(maps / "counts")) == {0: 0, 1: 0}


def test_multi_batch_has_a_program_the_verifier_rejects(bpffs: pathlib.Path) -> None:
    with pytest.raises(AssertionError, match="map_value_or_null"):
        load("multi", bpffs)
    assert list((bpffs / "multi_progs").iterdir()) == []


@pytest.mark.parametrize(("obj", "passes"), [("xdp_chain", 2), ("tc_chain", 0), ("tcx_chain", -1)])
def test_chain_programs_count_only_test_udp(
    obj: str, passes: int, bpffs: pathlib.Path, tmp_path: pathlib.Path
) -> None:
    progs, maps = load(obj, bpffs)
    prog = progs / obj
    assert prog_run(prog, udp_frame(53), tmp_path) == passes
    assert bpftool.map_values(str(maps / "counts"))[0] == 0
    for _ in range(3):
        assert prog_run(prog, udp_frame(CHAIN_PORT), tmp_path) == passes
    assert bpftool.map_values(str(maps / "counts"))[0] == 3
    assert bpftool.map_values(str(maps / "seq")) == {0: 3}
    assert bpftool.map_values(str(maps / "last_seq"))[0] == 2


def test_veth_pair_carries_udp_and_ping_then_vanishes() -> None:
    veth = net.VethPair()
    try:
        assert len(veth.if_a) <= 15 and len(veth.if_b) <= 15
        assert os.path.exists(veth.netns_path_b)
        assert veth.ping(2)
        assert veth.ping(1, from_a=False)
        veth.send_udp(200)
        assert veth.udp_received(CHAIN_PORT, 200, timeout=2.0) == 200
        veth.send_udp(5, port=5000, from_a=False)
        assert veth.udp_received(5000, 5, timeout=2.0, at_b=False) == 5
        assert veth.udp_received(CHAIN_PORT, 1, timeout=0.1) == 0
    finally:
        veth.close()
    veth.close()
    listed = run(["ip", "netns", "list"])
    assert veth.ns_a not in listed and veth.ns_b not in listed
    assert not os.path.exists(veth.netns_path_a)
    assert not os.path.exists(veth.netns_path_b)


class _LinkCreateOpts(ctypes.Structure):
    """libbpf's struct bpf_link_create_opts, as far as the flags."""

    _fields_ = (("sz", ctypes.c_size_t), ("flags", ctypes.c_uint32), ("pad", ctypes.c_uint32))


def tcx_attach(pair: net.VethPair, prog: pathlib.Path, first: bool = False) -> int:
    """Attach a pinned program to if_b ingress with a raw TCX link; returns the link fd.

    first puts it before every existing link (BPF_F_BEFORE with no anchor). The link
    is created from inside ns_b: the kernel resolves the ifindex in the caller's netns.
    """
    libbpf = ctypes.CDLL("libbpf.so.1", use_errno=True)
    opts = _LinkCreateOpts(sz=ctypes.sizeof(_LinkCreateOpts), flags=BPF_F_BEFORE if first else 0)

    def create() -> int:
        prog_fd = int(libbpf.bpf_obj_get(str(prog).encode()))
        assert prog_fd >= 0, os.strerror(ctypes.get_errno())
        try:
            ifindex = socket.if_nametoindex(pair.if_b)
            fd = libbpf.bpf_link_create(prog_fd, ifindex, BPF_TCX_INGRESS, ctypes.byref(opts))
            return int(fd)
        finally:
            os.close(prog_fd)

    link_fd = net.in_netns(pair.ns_b, create)
    assert link_fd >= 0, f"bpf_link_create: {os.strerror(-link_fd)}"
    return link_fd


def test_xdp_tcx_tc_on_veth_see_real_packets(pair: net.VethPair, bpffs: pathlib.Path) -> None:
    xdp_progs, xdp_maps = load("xdp_chain", bpffs)
    tcx_progs, tcx_maps = load("tcx_chain", bpffs)
    tc_progs, tc_maps = load("tc_chain", bpffs)
    bpftool_b, tc_b = ["ip", "netns", "exec", pair.ns_b, "bpftool"], ["tc", "-n", pair.ns_b]
    xdp_pin, tc_pin = str(xdp_progs / "xdp_chain"), str(tc_progs / "tc_chain")
    run([*bpftool_b, "net", "attach", "xdpgeneric", "pinned", xdp_pin, "dev", pair.if_b])
    run([*tc_b, "qdisc", "add", "dev", pair.if_b, "clsact"])
    run([*tc_b, "filter", "add", "dev", pair.if_b, "ingress", "bpf", "da", "object-pinned", tc_pin])
    link_fd = tcx_attach(pair, tcx_progs / "tcx_chain")
    try:
        shown = bpftool.net_show(pair.if_b, pair.netns_path_b)
        assert [x["id"] for x in shown["xdp"]] == [pinned_prog_id(xdp_progs / "xdp_chain")]
        assert [x["id"] for x in shown["tc"]] == [pinned_prog_id(tc_progs / "tc_chain")]
        assert [(x["kind"], x["prog_id"]) for x in shown["tcx"]] == [
            ("tcx/ingress", pinned_prog_id(tcx_progs / "tcx_chain"))
        ]
        assert pair.ping(1)  # ICMP and ARP are not counted
        pair.send_udp(25)
        assert pair.udp_received(CHAIN_PORT, 25, timeout=2.0) == 25
        for maps in (xdp_maps, tcx_maps, tc_maps):
            assert bpftool.map_values(str(maps / "counts"))[0] == 25, maps.name
    finally:
        os.close(link_fd)
    assert bpftool.net_show(pair.if_b, pair.ns_b)["tcx"] == []


def test_net_show_reports_an_empty_interface(pair: net.VethPair) -> None:
    shown = bpftool.net_show(pair.if_a, pair.ns_a)
    assert (shown["xdp"], shown["tc"], shown["tcx"]) == ([], [], [])
    with pytest.raises(AssertionError, match="bpftool"):
        bpftool.prog_show(0)


def test_net_show_lists_tcx_links_in_run_order(pair: net.VethPair, bpffs: pathlib.Path) -> None:
    (bpffs / "second").mkdir()
    first_progs, _ = load("tcx_chain", bpffs)
    second_progs, _ = load("tcx_chain", bpffs / "second")
    appended = tcx_attach(pair, first_progs / "tcx_chain")
    try:
        prepended = tcx_attach(pair, second_progs / "tcx_chain", first=True)
        try:
            shown = bpftool.net_show(pair.if_b, pair.ns_b)["tcx"]
            expected = [second_progs / "tcx_chain", first_progs / "tcx_chain"]
            assert [x["prog_id"] for x in shown] == [pinned_prog_id(p) for p in expected]
            assert all(x["link_id"] > 0 for x in shown)
        finally:
            os.close(prepended)
    finally:
        os.close(appended)


def test_the_leak_detector_sees_programs_whose_names_are_long() -> None:
    """bpftool shows ``tracepoint_counter`` in full (from BTF), not the kernel's 15
    characters: a detector matching only those would miss every leak of it."""
    from bpfman import kernel
    from tests.helpers.consistency import kernel_programs

    name = "tracepoint_counter"
    assert len(name) > 15
    obj = kernel.BpfObject.open_file(build.bpf_object(name))
    try:
        obj.load()
        held = kernel_programs({name})  # loaded, pinned nowhere: what a leak looks like
    finally:
        obj.close()
    assert list(held.values()) == [name]
