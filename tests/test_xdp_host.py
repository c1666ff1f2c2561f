"""xdp on a kernel that refuses freplace: one program per interface, real packets.

The host kernel refuses BPF_PROG_TYPE_EXT, so bpfman takes the direct path by
itself; on a kernel that allows freplace, BPFMAN_FREPLACE=0 forces that path
so these tests mean the same everywhere.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import run
from tests.helpers.bpftool import net_show
from tests.helpers.chains import PORT, counts, load_chain, refusal
from tests.helpers.net import VethPair
from tests.helpers.root import Root

XDP_DROP, XDP_PASS = 1, 2
PACKETS = 20


def xdp_progs(pair: VethPair) -> list[tuple[int, str]]:
    return [(e["id"], e["mode"]) for e in net_show(pair.if_b, pair.netns_path_b)["xdp"]]


def test_direct_attach_drops_then_detach_restores(
    direct: Root, objects: Path, pair: VethPair
) -> None:
    prog = load_chain(direct, objects, "xdp", 0, XDP_DROP)
    link = direct.attach(prog, "xdp", "-i", pair.if_b, "-p", 100, "-n", pair.netns_path_b)
    assert link["attachment"] == f"{pair.if_b} pos-0"
    assert link["params"]["dispatch"] == "direct"
    assert xdp_progs(pair) == [(prog, "driver")]

    pair.send_udp(PACKETS, PORT)
    assert pair.udp_received(PORT, PACKETS, timeout=0.5) == 0
    assert counts(direct, prog)[0] == PACKETS
    text = direct.run("get", "link", link["id"]).stdout
    assert "Mode:               direct (one per hook)" in text
    assert "Proceed On:         pass, dispatcher_return" in text

    direct.run("detach", link["id"])
    assert xdp_progs(pair) == []
    pair.send_udp(PACKETS, PORT)
    assert pair.udp_received(PORT, PACKETS) == PACKETS
    assert not list((direct.path / "fs" / "xdp").iterdir())


def test_second_program_is_refused_with_nothing_changed(
    direct: Root, objects: Path, pair: VethPair
) -> None:
    first = load_chain(direct, objects, "xdp", 0, XDP_PASS)
    second = load_chain(direct, objects, "xdp", 1, XDP_DROP, owner=first)
    link = direct.attach(first, "xdp", "-i", pair.if_b, "-p", 100, "-n", pair.netns_path_b)
    before = direct.json("list", "links")

    line = direct.fail("attach", second, "xdp", "-i", pair.if_b, "-p", 50, "-n", pair.netns_path_b)
    assert refusal() in line and f"already runs program {first}" in line
    assert direct.json("list", "links") == before
    assert xdp_progs(pair) == [(first, "driver")]
    pair.send_udp(PACKETS, PORT)
    assert pair.udp_received(PORT, PACKETS) == PACKETS
    assert counts(direct, first)[1] == 0 and counts(direct, first)[0] == PACKETS

    direct.run("unload", first)
    assert xdp_progs(pair) == []
    assert direct.json("list", "links") == []
    direct.run("attach", second, "xdp", "-i", pair.if_b, "-p", 50, "-n", pair.netns_path_b)
    assert [p for p, _ in xdp_progs(pair)] == [second]
    assert direct.fail("get", "link", link["id"]).endswith(f"no link with id {link['id']}")


@pytest.mark.parametrize("per_interface", [False, True])
def test_skb_mode_from_the_config_file(
    direct: Root, objects: Path, pair: VethPair, per_interface: bool
) -> None:
    table = (
        f'[xdp.interfaces]\n"{pair.if_b}" = "skb"\n' if per_interface else '[xdp]\nmode = "skb"\n'
    )
    (direct.path / "bpfman.toml").write_text(table)
    prog = load_chain(direct, objects, "xdp", 0, XDP_DROP)
    link = direct.attach(prog, "xdp", "-i", pair.if_b, "-p", 10, "-n", pair.netns_path_b)
    assert link["params"]["xdp_mode"] == "skb"
    assert xdp_progs(pair) == [(prog, "generic")]
    pair.send_udp(PACKETS, PORT)
    assert pair.udp_received(PORT, PACKETS, timeout=0.5) == 0


def test_bad_input_is_refused_cleanly(direct: Root, objects: Path, pair: VethPair) -> None:
    prog = load_chain(direct, objects, "xdp", 0, XDP_PASS)
    ns = pair.netns_path_b
    assert "proceed-on" in direct.fail(
        "attach", prog, "xdp", "-i", pair.if_b, "-p", 5, "-n", ns, "--proceed-on", "shot"
    )
    assert "not found" in direct.fail("attach", prog, "xdp", "-i", "nope0", "-p", 5, "-n", ns)
    assert "1000" in direct.fail("attach", prog, "xdp", "-i", pair.if_b, "-p", 1001, "-n", ns)
    assert direct.json("list", "links") == []
    assert xdp_progs(pair) == []


def test_netns_deleted_then_unload_finishes(direct: Root, objects: Path, pair: VethPair) -> None:
    prog = load_chain(direct, objects, "xdp", 0, XDP_PASS)
    direct.attach(prog, "xdp", "-i", pair.if_b, "-n", pair.netns_path_b, "-p", 5)
    run(["ip", "netns", "delete", pair.ns_b])
    direct.run("unload", prog)
    assert direct.json("list", "links") == []
    assert direct.json("list", "programs") == []
    assert not list((direct.path / "fs" / "xdp").iterdir())


def test_unrecorded_dispatcher_pins_are_removed_by_recover(
    direct: Root, objects: Path, pair: VethPair
) -> None:
    """Pins in the xdp directory that no hook records go with ``system recover``."""
    prog = load_chain(direct, objects, "xdp", 0, XDP_PASS)
    base = direct.path / "fs" / "xdp"
    direct.attach(prog, "xdp", "-i", pair.if_b, "-n", pair.netns_path_b, "-p", 5)
    (kept,) = base.iterdir()
    orphan = base / "dispatch-1-999"
    orphan.mkdir()
    run(["bpftool", "prog", "pin", "id", str(prog), str(orphan / "dispatcher")])
    run(["bpftool", "prog", "pin", "id", str(prog), str(base / "link-1-1")])
    other = load_chain(direct, objects, "xdp", 0, XDP_PASS)
    direct.attach(other, "xdp", "-i", pair.if_a, "-n", pair.netns_path_a, "-p", 5)
    assert orphan.exists()  # a normal command never sweeps
    direct.run("system", "recover")
    assert kept.exists() and not orphan.exists() and not (base / "link-1-1").exists()
    assert len(list(base.iterdir())) == 2


def test_foreign_xdp_program_is_a_clean_error(direct: Root, objects: Path, pair: VethPair) -> None:
    foreign = load_chain(direct, objects, "xdp", 0, XDP_PASS)
    ours = load_chain(direct, objects, "xdp", 1, XDP_PASS)
    ns = ["ip", "netns", "exec", pair.ns_b]
    run([*ns, "bpftool", "net", "attach", "xdp", "id", str(foreign), "dev", pair.if_b])
    try:
        line = direct.fail("attach", ours, "xdp", "-i", pair.if_b, "-n", pair.netns_path_b, "-p", 5)
        assert "bpfman did not attach" in line
        assert direct.json("list", "links") == []
        xdp_dir = direct.path / "fs" / "xdp"
        assert not xdp_dir.exists() or not list(xdp_dir.iterdir())
        assert xdp_progs(pair) == [(foreign, "driver")]
    finally:
        run([*ns, "bpftool", "net", "detach", "xdp", "dev", pair.if_b])
