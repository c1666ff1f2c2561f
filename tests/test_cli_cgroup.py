"""cgroup programs through the real CLI, proven with real packets from a process
inside a fresh cgroup v2 directory.

``cgroup_chain`` (section ``cgroup_skb/egress``) counts and stamps the UDP
datagrams a cgroup's sockets send to one port and lets them through or denies
them; ``deny_connect`` (``cgroup/connect4``) refuses connect() to that port.
Instances share their maps (``--map-owner-id``): ``counts[slot]`` says how many
datagrams each saw and ``last_seq[slot]`` in which order they ran.
"""

from __future__ import annotations

import json
import secrets
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers import run, shown_rows, u32_hex
from tests.helpers.bpftool import bpftool, map_values
from tests.helpers.cgroup import Cgroup
from tests.helpers.root import Root
from tests.helpers.wait import eventually

PACKETS = 20
ALLOW, DENY = 1, 0


@pytest.fixture
def cgroup() -> Iterator[Cgroup]:
    with Cgroup() as cg:
        yield cg


@pytest.fixture
def receiver() -> Iterator[socket.socket]:
    """A UDP socket on 127.0.0.1, outside the cgroup, on a free port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.5)
    try:
        yield sock
    finally:
        sock.close()


def port_of(sock: socket.socket) -> int:
    return int(sock.getsockname()[1])


def drain(sock: socket.socket) -> int:
    received = 0
    while True:
        try:
            sock.recv(2048)
        except TimeoutError:
            return received
        received += 1


def load(
    root: Root,
    objects: Path,
    port: int,
    slot: int = 0,
    verdict: int = ALLOW,
    owner: int | None = None,
    functions: tuple[str, ...] = ("cgroup_chain",),
) -> list[int]:
    args: list[str | int | Path] = ["load", "file", "-p", objects / "cgroup_chain.bpf.o"]
    args += ["--programs", *(f"cgroup:{fn}" for fn in functions)]
    port_hex = port.to_bytes(2, "little").hex()
    args += [
        "-g",
        f"prog_slot={u32_hex(slot)}",
        f"verdict={u32_hex(verdict)}",
        f"udp_port={port_hex}",
    ]
    if owner is not None:
        args += ["--map-owner-id", owner]
    loaded: Any = root.json(*args)
    return [int(p["id"]) for p in loaded]


def attach(root: Root, prog: int, cgroup: Cgroup, *priority: int) -> dict[str, Any]:
    extra = ["-p", str(priority[0])] if priority else []
    out = root.run("attach", "--output", "json", prog, "cgroup", "-c", cgroup.path, *extra)
    link: dict[str, Any] = json.loads(out.stdout)
    return link


def chain_maps(root: Root, owner: int) -> tuple[dict[int, int], dict[int, int]]:
    maps = root.path / "fs" / "maps" / str(owner)
    return map_values(str(maps / "counts")), map_values(str(maps / "last_seq"))


def kernel_order(cgroup: Cgroup, attach_type: str = "cgroup_inet_egress") -> list[int]:
    """Program ids on the cgroup's hook in the kernel's run order (bpftool)."""
    out = run(["bpftool", "-j", "cgroup", "show", str(cgroup.path)]).strip()
    shown = json.loads(out) if out else []  # bpftool prints nothing for an empty cgroup
    return [int(p["id"]) for p in shown if p["attach_type"] == attach_type]


def test_packets_from_inside_the_cgroup_are_counted_and_a_deny_is_enforced(
    root: Root, objects: Path, cgroup: Cgroup, receiver: socket.socket
) -> None:
    port = port_of(receiver)
    [counter] = load(root, objects, port)
    link = attach(root, counter, cgroup, 100)
    assert link["attachment"] == f"{cgroup.path} cgroup_inet_egress pos-0"
    assert kernel_order(cgroup) == [counter]

    assert cgroup.run(port, PACKETS) == {"denied": 0}
    assert drain(receiver) == PACKETS
    counts, _ = chain_maps(root, counter)
    assert counts[0] == PACKETS

    # Traffic from outside the cgroup is not the program's business.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as outside:
        for _ in range(5):
            outside.sendto(b"outside", ("127.0.0.1", port))
    assert drain(receiver) == 5
    assert chain_maps(root, counter)[0][0] == PACKETS

    # A second program denies: every send fails with EPERM, both programs see it.
    [denier] = load(root, objects, port, slot=1, verdict=DENY, owner=counter)
    deny_link = attach(root, denier, cgroup, 200)
    assert cgroup.run(port, PACKETS) == {"denied": PACKETS}
    assert drain(receiver) == 0
    counts, _ = chain_maps(root, counter)
    assert (counts[0], counts[1]) == (2 * PACKETS, PACKETS)

    # Detaching the denier restores the traffic; the program stays loaded.
    root.run("detach", deny_link["id"])
    assert eventually(lambda: kernel_order(cgroup) == [counter])
    assert cgroup.run(port, PACKETS) == {"denied": 0}
    assert drain(receiver) == PACKETS
    assert denier in [row["id"] for row in root.json("list", "programs")]

    root.run("unload", counter)
    root.run("unload", denier)
    assert eventually(lambda: kernel_order(cgroup) == [])
    assert root.json("list", "links") == []


def test_programs_run_in_priority_order_and_positions_follow(
    root: Root, objects: Path, cgroup: Cgroup, receiver: socket.socket
) -> None:
    port = port_of(receiver)
    # Slot 0 owns the maps and runs last (priority 1000); attach order 1000, 50, 100.
    [owner] = load(root, objects, port, slot=0)
    [first] = load(root, objects, port, slot=1, owner=owner)
    [middle] = load(root, objects, port, slot=2, owner=owner)
    assert attach(root, owner, cgroup, 1000)["position"] == 0
    assert attach(root, first, cgroup, 50)["position"] == 0
    assert attach(root, middle, cgroup, 100)["position"] == 1
    assert kernel_order(cgroup) == [first, middle, owner]
    rows: Any = root.json("list", "links")
    assert {row["program_id"]: row["attachment"] for row in rows} == {
        first: f"{cgroup.path} cgroup_inet_egress pos-0",
        middle: f"{cgroup.path} cgroup_inet_egress pos-1",
        owner: f"{cgroup.path} cgroup_inet_egress pos-2",
    }

    assert cgroup.run(port, PACKETS) == {"denied": 0}
    counts, last_seq = chain_maps(root, owner)
    assert [counts[1], counts[2], counts[0]] == [PACKETS] * 3
    assert last_seq[1] < last_seq[2] < last_seq[0]  # ran 50, then 100, then 1000

    # An equal priority keeps attach order; without -p a link runs last (1000).
    [late] = load(root, objects, port, slot=3, owner=owner)
    [tie] = load(root, objects, port, slot=4, owner=owner)
    assert attach(root, tie, cgroup, 50)["position"] == 1
    assert attach(root, late, cgroup)["position"] == 4
    assert kernel_order(cgroup) == [first, tie, middle, owner, late]

    owner_link = next(row["id"] for row in rows if row["program_id"] == owner)
    shown = shown_rows(root.run("get", "link", owner_link).stdout)
    assert (shown["Cgroup"], shown["Attach Type"]) == (str(cgroup.path), "cgroup_inet_egress")
    assert (shown["Priority"], shown["Position"]) == ("1000", "3")
    middle_link = next(row["id"] for row in rows if row["program_id"] == middle)
    root.run("detach", middle_link)
    assert eventually(lambda: kernel_order(cgroup) == [first, tie, owner, late])
    positions = {row["program_id"]: row["position"] for row in root.json("list", "links")}
    assert positions == {first: 0, tie: 1, owner: 2, late: 3}


def test_section_picks_the_kernel_and_attach_type(
    root: Root, objects: Path, cgroup: Cgroup, receiver: socket.socket
) -> None:
    port = port_of(receiver)
    skb, connect = load(root, objects, port, functions=("cgroup_chain", "deny_connect"))
    assert bpftool("prog", "show", "id", str(skb))["type"] == "cgroup_skb"
    assert bpftool("prog", "show", "id", str(connect))["type"] == "cgroup_sock_addr"
    filtered: Any = root.json("list", "programs", "--program-type", "cgroup-sock-addr")
    assert [row["id"] for row in filtered] == [connect]
    shown = shown_rows(root.run("get", "program", connect).stdout)
    assert shown["Attach Type"] == "cgroup_inet4_connect"

    link = attach(root, connect, cgroup)
    assert link["attachment"] == f"{cgroup.path} cgroup_inet4_connect pos-0"
    assert kernel_order(cgroup, "cgroup_inet4_connect") == [connect]
    assert cgroup.run(port, 3, mode="connect") == {"denied": 3}
    assert cgroup.run(port + 1 if port < 65535 else port - 1, 3, mode="connect") == {"denied": 0}
    root.run("detach", link["id"])
    assert cgroup.run(port, 3, mode="connect") == {"denied": 0}


def test_bad_cgroup_input_is_one_line(root: Root, objects: Path, tmp_path: Path) -> None:
    [prog] = load(root, objects, 4242)
    missing = f"/sys/fs/cgroup/bpfman-no-such-{secrets.token_hex(4)}"
    assert (
        root.fail("attach", prog, "cgroup", "-c", missing) == f"Error: cgroup {missing} not found"
    )
    message = root.fail("attach", prog, "cgroup", "-c", tmp_path)
    assert message.startswith(f"Error: {tmp_path} is not a cgroup v2 directory")
    assert "1001" in root.fail("attach", prog, "cgroup", "-c", tmp_path, "-p", "1001")
    message = root.fail(
        "load", "file", "-p", objects / "tcx_chain.bpf.o", "--programs", "cgroup:tcx_chain"
    )
    assert message == "Error: tcx_chain is a tc program (section `tc`), not cgroup"
    assert root.json("list", "links") == []
