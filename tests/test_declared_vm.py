"""A real reboot: XDP and TC chains saved in one guest come back in a fresh one.

Boot 1 loads xdp and tc chains through the dispatchers (freplace, which the host
kernel refuses), checks their order with traffic, saves the declaration into the
directory the reboot keeps, and asks for a second boot. Boot 2 is a fresh kernel:
nothing is loaded; it makes the same interfaces, runs the restore unit's own
command, and checks that traffic runs through the same chains in the same order.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bpfman.core.manager import Bpfman
from tests.helpers.bpftool import map_values, net_show
from tests.helpers.chains import PORT
from tests.helpers.net import VethPair
from tests.helpers.reboot import Reboot, reboot_for
from tests.helpers.root import REPO, Root

pytestmark = pytest.mark.vm
XDP_PASS, TC_ACT_OK = 2, 0
PACKETS = 8
# slot -> priority: xdp runs 1, 0, 2 (0 and 2 tie: attach order), tc runs 1, 0.
XDP = {0: 100, 1: 50, 2: 100}
TC = {0: 20, 1: 10}


@pytest.fixture
def reboot(request: pytest.FixtureRequest) -> Reboot:
    return reboot_for(request)


def load_chain(mgr: Bpfman, objects: Path, kind: str, slot: int, owner: int | None) -> int:
    verdict = XDP_PASS if kind == "xdp" else TC_ACT_OK
    [record] = mgr.load_file(
        objects / f"{kind}_chain.bpf.o",
        [f"{kind}:{kind}_chain"],
        globals={
            "prog_slot": slot.to_bytes(4, "little", signed=True),
            "verdict": verdict.to_bytes(4, "little", signed=True),
        },
        metadata={"bpfman_application": f"reboot-{kind}"},
        map_owner_id=owner,
    )
    return record.id


def run_order(mgr: Bpfman, kind: str) -> tuple[list[int], dict[int, int]]:
    """The slots of ``kind`` in the order they ran for the last packet, and their counts."""
    [owner] = [r for r in mgr.program_records() if r.type == kind and r.map_owner_id is None]
    maps = Path(owner.map_pin_path)
    seq, counts = map_values(str(maps / "last_seq")), map_values(str(maps / "counts"))
    slots = sorted(s for s in seq if counts.get(s))
    return sorted(slots, key=lambda s: seq[s]), {s: counts[s] for s in slots}


def traffic(pair: VethPair) -> None:
    pair.send_udp(PACKETS, PORT)
    assert pair.udp_received(PORT, PACKETS, timeout=5.0) == PACKETS


def check_chains(mgr: Bpfman, pair: VethPair) -> None:
    traffic(pair)
    assert run_order(mgr, "xdp") == ([1, 0, 2], dict.fromkeys(XDP, PACKETS))
    assert run_order(mgr, "tc") == ([1, 0], dict.fromkeys(TC, PACKETS))
    shown = net_show(pair.if_b, pair.netns_path_b)
    assert len(shown["xdp"]) == 1 and len(shown["tc"]) == 1  # one dispatcher each
    for details in mgr.list_links():
        assert ("Mode", "dispatcher (freplace)") in details.view.rows


def restore_command(programs_d: Path) -> list[str]:
    """bpfman-restore.service's ExecStart, with this checkout's bpfman and another folder."""
    unit = (REPO / "systemd" / "bpfman-restore.service.in").read_text()
    [line] = [ln for ln in unit.splitlines() if ln.startswith("ExecStart=")]
    command = line.removeprefix("ExecStart=").replace("@BINDIR@", str(Path(sys.executable).parent))
    return command.replace("/etc/bpfman/programs.d", str(programs_d)).split()


def test_xdp_and_tc_chains_come_back_after_a_reboot(
    reboot: Reboot, root: Root, objects: Path
) -> None:
    state = reboot.directory / "pair.json"
    programs_d = reboot.directory / "programs.d"
    if reboot.boot == 1:
        with VethPair() as pair, root.manager() as mgr:
            where = {"iface": pair.if_b, "netns": pair.netns_path_b}
            xdp_owner = load_chain(mgr, objects, "xdp", 0, None)
            xdp = [xdp_owner] + [load_chain(mgr, objects, "xdp", s, xdp_owner) for s in (1, 2)]
            tc_owner = load_chain(mgr, objects, "tc", 0, None)
            tc = [tc_owner, load_chain(mgr, objects, "tc", 1, tc_owner)]
            for slot, prog in enumerate(xdp):
                mgr.attach(prog, {**where, "priority": XDP[slot]})
            for slot, prog in enumerate(tc):
                mgr.attach(prog, {**where, "direction": "ingress", "priority": TC[slot]})
            check_chains(mgr, pair)
            programs_d.mkdir()
            root.run("system", "save", "-o", programs_d / "host.toml")
            state.write_text(json.dumps({"token": pair.token}))
        reboot.request()
        return

    # A fresh kernel: nothing of boot 1 is left but the files.
    token = json.loads(state.read_text())["token"]
    with VethPair(token) as pair:
        assert not (root.path / "db").exists()
        restored = subprocess.run(
            restore_command(programs_d), env=root.env, capture_output=True, text=True
        )
        assert restored.returncode == 0, restored.stderr
        assert sum(line.startswith("loaded ") for line in restored.stdout.splitlines()) == 5
        with root.manager() as mgr:
            check_chains(mgr, pair)
        again = root.run("system", "apply", programs_d)
        assert again.stdout.splitlines() == ["nothing to do: the host matches the declaration"]
