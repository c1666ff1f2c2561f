"""The dispatchers themselves: shipped objects and test runs (layouts: tests/unit).

These run on the host kernel: loading a dispatcher and running it with
BPF_PROG_TEST_RUN needs no freplace. Chains with real extensions are in the
VM lane (test_xdp_vm.py, test_tc_vm.py).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from bpfman import kernel
from bpfman.dispatcher import TC, XDP, Flavour, proceed_on_mask
from bpfman.dispatcher.flavours import OBJECTS, Slot
from bpfman.dispatcher.loader import load_dispatcher
from tests.helpers import run
from tests.helpers.root import REPO, require_root

PACKET = bytes(64)
XDP_PASS, TC_ACT_OK = 2, 0


def _sections(obj: Path) -> dict[str, bytes]:
    """Instruction and config bytes: every executable section plus .rodata."""
    out: dict[str, bytes] = {}
    listing = run(["llvm-readelf", "-S", "-W", str(obj)])
    for line in listing.splitlines():
        parts = line.replace("[ ", "[").split()
        if (
            len(parts) > 7
            and parts[0].startswith("[")
            and ("X" in parts[7] or parts[1] == ".rodata")
        ):
            dump = obj.parent / f"{obj.name}.{parts[1].replace('/', '_')}"
            run(["llvm-objcopy", "-O", "binary", f"--only-section={parts[1]}", str(obj), str(dump)])
            out[parts[1]] = dump.read_bytes()
    return out


def test_shipped_objects_match_their_sources(tmp_path: Path) -> None:
    run(["make", "-s", "-C", str(REPO / "bpf" / "dispatchers"), f"OUT={tmp_path}"])
    for flavour in (XDP, TC):
        shipped = tmp_path / "shipped" / f"{flavour.function}.o"
        shipped.parent.mkdir(exist_ok=True)
        shipped.write_bytes(flavour.object.read_bytes())
        rebuilt = _sections(tmp_path / f"{flavour.function}.o")
        assert set(rebuilt) >= {".text", ".rodata"}
        assert _sections(shipped) == rebuilt, (
            f"{flavour.object} is stale: run `make -C bpf/dispatchers` and commit it"
        )


def test_objects_ship_in_the_package() -> None:
    assert sorted(p.name for p in OBJECTS.iterdir() if p.name.endswith(".o")) == [
        "tc_dispatcher.o",
        "xdp_dispatcher.o",
    ]
    tracked = subprocess.run(
        ["git", "ls-files", "bpfman/dispatcher/objects"], cwd=REPO, capture_output=True, text=True
    ).stdout.split()
    assert sorted(tracked) == [
        "bpfman/dispatcher/objects/tc_dispatcher.o",
        "bpfman/dispatcher/objects/xdp_dispatcher.o",
    ]


@pytest.mark.parametrize(("flavour", "verdict"), [(XDP, XDP_PASS), (TC, TC_ACT_OK)])
@pytest.mark.parametrize("enabled", [0, 1, 10])
def test_dispatcher_without_extensions_lets_packets_through(
    flavour: Flavour, verdict: int, enabled: int
) -> None:
    require_root()
    slots = [Slot(proceed_on_mask(flavour, []), 100 + i) for i in range(enabled)]
    with load_dispatcher(flavour, slots) as obj:
        fd = obj.program_fd(flavour.function)
        assert kernel.prog_test_run(fd, PACKET)[0] == verdict
        assert kernel.prog_info(fd).name == flavour.function[:15]


@pytest.mark.parametrize("flavour", [XDP, TC])
def test_stub_return_stops_the_chain_when_not_proceeded_on(flavour: Flavour) -> None:
    """A mask without dispatcher_return ends the chain at the first (empty) slot."""
    require_root()
    with load_dispatcher(
        flavour, [Slot(proceed_on_mask(flavour, ["pass" if flavour is XDP else "ok"]), 1)]
    ) as obj:
        assert kernel.prog_test_run(obj.program_fd(flavour.function), PACKET)[0] == flavour.retval


def test_staleness_check_notices_a_changed_source(tmp_path: Path) -> None:
    """The comparison above is not vacuous: a one-constant edit changes the bytes."""
    src = tmp_path / "src"
    shutil.copytree(REPO / "bpf" / "dispatchers", src)
    source = src / "xdp_dispatcher.bpf.c"
    source.write_text(
        source.read_text().replace("XDP_DISPATCHER_RETVAL 31", "XDP_DISPATCHER_RETVAL 29")
    )
    run(["make", "-s", "-C", str(src), f"OUT={tmp_path / 'out'}"])
    shipped = tmp_path / "shipped.o"
    shipped.write_bytes(XDP.object.read_bytes())
    assert _sections(tmp_path / "out" / "xdp_dispatcher.o") != _sections(shipped)
