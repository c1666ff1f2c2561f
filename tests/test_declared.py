"""Declared state on the real kernel: ``bpfman system save`` and ``bpfman system apply``.

A round trip puts back the same programs, links, order, globals and metadata;
applying again changes nothing; refusals leave the host as it was (kernel
links, bpffs pins and the store compared before and after); ``--check`` on a
drifted host lists exactly the differences.
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.bpftool import bpftool, find_map_id, links_of, prog_ids
from tests.helpers.cgroup import Cgroup
from tests.helpers.chains import PORT, attach_tcx, last_seq, load_chain
from tests.helpers.net import VethPair
from tests.helpers.root import REPO, Root, le32, load_counter

DIFFERS = 10
NOTHING = "nothing to do: the host matches the declaration"


@pytest.fixture
def cgroup() -> Iterator[Cgroup]:
    with Cgroup() as made:
        yield made


def rodata(prog_id: int) -> dict[str, int]:
    """The program's read-only globals as the kernel holds them (its .rodata map)."""
    for map_id in bpftool("prog", "show", "id", str(prog_id))["map_ids"]:
        if bpftool("map", "show", "id", str(map_id))["name"].endswith(".rodata"):
            [entry] = bpftool("map", "dump", "id", str(map_id))
            return {
                k: v for item in entry["formatted"]["value"][".rodata"] for k, v in item.items()
            }
    raise AssertionError(f"program {prog_id} has no .rodata map")


def programs(root: Root) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = root.json("list", "programs")
    return [root.json("get", "program", row["id"]) for row in listed]


def links(root: Root) -> list[dict[str, Any]]:
    listed: list[dict[str, Any]] = root.json("list", "links")
    return listed


def host_state(root: Root) -> dict[str, Any]:
    """What a refused apply must leave as it was: the store, the pins, the kernel links."""
    pins = sorted(str(p.relative_to(root.path)) for p in (root.path / "fs").rglob("*"))
    ids = sorted(row["id"] for row in root.json("list", "programs"))
    return {
        "programs": root.run("list", "programs").stdout,
        "links": root.run("list", "links").stdout,
        "pins": pins,
        "kernel_links": sorted(links_of(*ids)) if ids else [],
        "alive": sorted(set(ids) & prog_ids()),
    }


def apply(root: Root, *args: str | Path) -> list[str]:
    return root.run("system", "apply", *args).stdout.splitlines()


def refused(root: Root, *args: str | Path) -> str:
    """``system apply`` refuses with one line, and the host is exactly as it was."""
    before = host_state(root)
    line = root.fail("system", "apply", *args)
    assert host_state(root) == before
    return line


def kernel_tcx_order(pair: VethPair) -> list[int]:
    from tests.helpers.bpftool import net_show

    shown = net_show(pair.if_b, pair.netns_path_b)["tcx"]
    return [e["prog_id"] for e in shown if e["kind"] == "tcx/ingress"]


def identity(program: dict[str, Any]) -> tuple[str, ...]:
    """What a program is, kernel ids aside (map sharing: whether it owns its maps)."""
    mine = program["bpfman"]
    return (
        mine["type"],
        mine["function"],
        json.dumps(mine["source"], sort_keys=True),
        json.dumps(mine["globals"], sort_keys=True),
        json.dumps(mine["metadata"], sort_keys=True),
        str(mine["map_owner_id"] is None),
    )


def link_identity(link: dict[str, Any]) -> tuple[str, ...]:
    return (
        link["type"],
        link["function"],
        link["attachment"],
        json.dumps(link["metadata"], sort_keys=True),
    )


def test_round_trip_restores_programs_links_order_globals_and_metadata(
    root: Root, objects: Path, pair: VethPair, cgroup: Cgroup, tmp_path: Path
) -> None:
    # tcx: four programs on one hook sharing maps; priorities 1000, 50, 100, 100 (a tie).
    owner = load_chain(root, objects, "tcx", 0, -1)
    tcx = [owner] + [load_chain(root, objects, "tcx", s, -1, owner) for s in (1, 2, 3)]
    for prog, prio in zip(tcx, (1000, 50, 100, 100), strict=True):
        attach_tcx(root, prog, pair.if_b, pair.netns_path_b, prio, "-m", f"prio={prio}")
    tp = load_counter(root, objects, "-g", f"increment={le32(2)}", "-a", "demo", "-m", "owner=acme")
    root.attach(tp, "tracepoint", "-t", "syscalls/sys_enter_getppid")
    up = root.load_id(objects / "uprobe_counter.bpf.o", "--programs", "uprobe:uprobe_counter")
    root.attach(up, "uprobe", "-t", "libc", "-f", "getpid")
    cg = root.load_id(
        objects / "cgroup_chain.bpf.o", "--programs", "cgroup:cgroup_chain",
        "-g", f"prog_slot={le32(7)}", f"udp_port={PORT.to_bytes(2, 'little').hex()}",
    )  # fmt: skip
    root.attach(cg, "cgroup", "-c", cgroup.path, "-p", 100)
    pe = root.load_id(
        objects / "perf_event_counter.bpf.o", "--programs", "perf_event:perf_event_counter"
    )
    root.attach(pe, "perf_event", "--event", "cpu-clock", "--frequency", 100)

    before_programs = sorted(identity(p) for p in programs(root))
    before_links = sorted(link_identity(ln) for ln in links(root))
    slots = {prog: slot for slot, prog in enumerate(tcx)}
    before_order = [slots[p] for p in kernel_tcx_order(pair)]
    assert before_order == [1, 2, 3, 0]

    saved = tmp_path / "host.toml"
    root.run("system", "save", "-o", saved)
    text = saved.read_text()
    for prog in [*tcx, tp, up, cg, pe]:
        assert f"= {prog}\n" not in text  # no kernel id anywhere
    assert 'map_owner = "tcx_chain"' in text and 'owner = "acme"' in text

    for row in root.json("list", "programs"):
        root.run("unload", row["id"])
    assert root.json("list", "programs") == []

    done = apply(root, saved)
    assert sum(line.startswith("loaded ") for line in done) == 8
    assert sum(line.startswith("attached ") for line in done) == 8
    after = programs(root)
    assert sorted(identity(p) for p in after) == before_programs
    assert sorted(link_identity(ln) for ln in links(root)) == before_links
    # Order on the tcx hook, from the kernel; globals from the .rodata maps.
    new_tcx = {rodata(p["id"])["prog_slot"]: p["id"] for p in after if p["bpfman"]["type"] == "tcx"}
    slot_of = {prog: slot for slot, prog in new_tcx.items()}
    assert [slot_of[p] for p in kernel_tcx_order(pair)] == before_order
    new_tp = next(p["id"] for p in after if p["bpfman"]["type"] == "tracepoint")
    assert rodata(new_tp)["increment"] == 2
    new_cg = next(p["id"] for p in after if p["bpfman"]["type"] == "cgroup")
    assert rodata(new_cg)["prog_slot"] == 7
    # The four tcx programs share one counts map again; traffic runs them in order.
    assert len({find_map_id(i, "counts") for i in new_tcx.values()}) == 1
    pair.send_udp(5, PORT)
    assert pair.udp_received(PORT, 5, timeout=2.0) == 5
    seq = last_seq(root, new_tcx[0])
    assert sorted(range(4), key=lambda s: seq[s]) == [1, 2, 3, 0]

    # Applying again: nothing to do, and the kernel sees no change.
    kernel_before = host_state(root)
    assert apply(root, saved) == [NOTHING]
    assert root.run("system", "apply", "--check", saved).stdout.splitlines() == [NOTHING]
    assert host_state(root) == kernel_before
    # A second save gives the same declaration.
    assert root.run("system", "save").stdout == text


def test_check_on_a_drifted_host_lists_exactly_the_differences(
    root: Root, objects: Path, tmp_path: Path
) -> None:
    kept = load_counter(root, objects, "-a", "kept")
    root.attach(kept, "tracepoint", "-t", "syscalls/sys_enter_getppid")
    gone = load_counter(root, objects, "-a", "gone")
    root.attach(gone, "tracepoint", "-t", "syscalls/sys_enter_getpid")
    bare = load_counter(root, objects, "-a", "bare")
    bare_link = root.attach(bare, "tracepoint", "-t", "syscalls/sys_enter_getuid")
    saved = tmp_path / "host.toml"
    root.run("system", "save", "-o", saved)

    root.run("unload", gone)
    root.run("detach", bare_link["id"])
    extra = load_counter(root, objects, "-a", "extra")
    before = host_state(root)
    check = root.run("system", "apply", "--check", saved, check=False)
    assert check.returncode == DIFFERS, check.stderr
    tp = "tracepoint tracepoint_counter"
    assert check.stdout.splitlines() == [
        f'load "gone-tracepoint_counter": {tp} from {objects / "tracepoint_counter.bpf.o"}',
        'attach "gone-tracepoint_counter": tracepoint tracepoint=syscalls/sys_enter_getpid',
        'attach "bare-tracepoint_counter": tracepoint tracepoint=syscalls/sys_enter_getuid',
        f"keep program {extra} ({tp}, application extra): not declared (--prune unloads it)",
    ]
    pruned = root.run("system", "apply", "--check", "--prune", saved, check=False)
    assert pruned.returncode == DIFFERS
    assert pruned.stdout.splitlines()[-1] == (
        f"unload program {extra} ({tp}, application extra): not declared"
    )
    assert host_state(root) == before  # --check changed nothing

    done = apply(root, "--prune", saved)
    assert done[0].startswith('loaded "gone-tracepoint_counter": program ')
    assert done[-1] == f"unloaded program {extra}"
    assert root.run("system", "apply", "--check", "--prune", saved).stdout.splitlines() == [NOTHING]
    assert kept in {row["id"] for row in root.json("list", "programs")}


def test_a_tie_broken_by_hand_is_put_back_in_declared_order(
    root: Root, objects: Path, pair: VethPair, tmp_path: Path
) -> None:
    """Equal priorities run in attach order: re-attaching the first alone would put it last."""
    owner = load_chain(root, objects, "tcx", 0, -1)
    second = load_chain(root, objects, "tcx", 1, -1, owner)
    first_link = attach_tcx(root, owner, pair.if_b, pair.netns_path_b, 100)
    attach_tcx(root, second, pair.if_b, pair.netns_path_b, 100)
    saved = tmp_path / "host.toml"
    root.run("system", "save", "-o", saved)
    root.run("detach", first_link["id"])

    plan = root.run("system", "apply", "--check", saved, check=False).stdout.splitlines()
    assert [line.split(":")[0] for line in plan] == [
        'detach "tcx_chain-2"',
        'attach "tcx_chain"',
        'attach "tcx_chain-2"',
    ]
    apply(root, saved)
    assert kernel_tcx_order(pair) == [owner, second]
    assert apply(root, saved) == [NOTHING]


# -- refusals: each leaves the host exactly as it was ----------------------------------
@pytest.fixture
def declared(root: Root, objects: Path, tmp_path: Path) -> tuple[Path, Path]:
    """A saved host (a tracepoint program from a copy of its object), then that program
    unloaded: applying the declaration would load it again. (file, object copy)"""
    copy = tmp_path / "counter.bpf.o"
    shutil.copy(objects / "tracepoint_counter.bpf.o", copy)
    prog = root.load_id(copy, "--programs", "tracepoint:tracepoint_counter")
    root.attach(prog, "tracepoint", "-t", "syscalls/sys_enter_getppid")
    other = load_counter(root, objects, "-a", "other")
    root.attach(other, "tracepoint", "-t", "syscalls/sys_enter_getpid")
    saved = tmp_path / "host.toml"
    root.run("system", "save", "-o", saved)
    root.run("unload", prog)
    return saved, copy


def test_a_changed_file_is_refused(root: Root, declared: tuple[Path, Path]) -> None:
    saved, copy = declared
    with open(copy, "ab") as f:
        f.write(b"\0")
    line = refused(root, saved)
    assert line.startswith(f'Error: {saved}: program "tracepoint_counter": {copy} has changed')


def test_a_missing_file_is_refused(root: Root, declared: tuple[Path, Path]) -> None:
    saved, copy = declared
    copy.unlink()
    line = refused(root, saved)
    assert line == f'Error: {saved}: program "tracepoint_counter": bytecode file {copy} not found'


def test_a_missing_interface_is_refused(
    root: Root, objects: Path, pair: VethPair, tmp_path: Path
) -> None:
    edge = tmp_path / "edge.toml"
    edge.write_text(
        '[[program]]\nname = "edge"\ntype = "tcx"\nfunction = "tcx_chain"\n'
        f'file = "{objects / "tcx_chain.bpf.o"}"\n'
        '[[link]]\nprogram = "edge"\noptions = { iface = "bpft-nope", direction = "ingress", '
        f'priority = 5, netns = "{pair.netns_path_b}" }}\n'
    )
    load_counter(root, objects, "-a", "bystander")
    line = refused(root, edge)
    assert line == (
        f'Error: {edge}: link #1 (program "edge"): interface bpft-nope not found '
        f"in network namespace {pair.netns_path_b}"
    )


def test_a_name_declared_twice_is_refused(root: Root, declared: tuple[Path, Path]) -> None:
    saved, _ = declared
    twice = saved.parent / "again.toml"
    shutil.copy(saved, twice)
    line = refused(root, saved, twice)
    assert line == (
        f'Error: {twice}: program "tracepoint_counter": the name is declared twice '
        f"(first declared in {saved})"
    )


def test_an_unknown_type_is_refused(root: Root, declared: tuple[Path, Path]) -> None:
    saved, _ = declared
    saved.write_text(saved.read_text().replace('type = "tracepoint"', 'type = "nosuchtype"', 1))
    line = refused(root, saved)
    assert line.startswith(
        f"Error: {saved}: program \"tracepoint_counter\": unknown program type 'nosuchtype'"
    )


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (("version = 1", "version = 1\nversion = 2"), "not valid TOML: Cannot overwrite a value"),
        (('function = "tracepoint_counter"', "function = 5"),
         'program "tracepoint_counter": function must be a non-empty string, got an integer (5)'),
        (("[[link]]", "[[link]]\nextra = true"), "link #1 (program \"tracepoint_counter\"): unknown key 'extra'"),
        (('tracepoint = "syscalls/sys_enter_getppid"', "tracepoint = 3"),
         "tracepoint: tracepoint must be a string, got 3"),
    ],
)  # fmt: skip
def test_a_malformed_file_is_refused(
    root: Root, declared: tuple[Path, Path], change: tuple[str, str], reason: str
) -> None:
    saved, _ = declared
    saved.write_text(saved.read_text().replace(*change, 1))
    line = refused(root, saved)
    assert reason in line, line


def test_a_failure_half_way_is_undone(root: Root, objects: Path, tmp_path: Path) -> None:
    """The first program loads, the second fails in libbpf (no such global): the first
    is unloaded again and the error names the second entry."""
    obj = objects / "tracepoint_counter.bpf.o"
    saved = tmp_path / "two.toml"
    saved.write_text(
        f'[[program]]\nname = "good"\ntype = "tracepoint"\nfunction = "tracepoint_counter"\nfile = "{obj}"\n'
        f'[[program]]\nname = "bad"\ntype = "tracepoint"\nfunction = "tracepoint_counter"\nfile = "{obj}"\n'
        'globals = { no_such_global = "01" }\n'
        '[[link]]\nprogram = "good"\noptions = { tracepoint = "syscalls/sys_enter_getppid" }\n'
    )
    load_counter(root, objects, "-a", "bystander")
    line = refused(root, saved)
    assert line.startswith(f'Error: {saved}: program "bad": ')
    assert line.endswith("; nothing was changed")


# -- at boot ------------------------------------------------------------------------------
def restore_command(bindir: Path, programs_d: Path) -> list[str]:
    """The restore unit's ExecStart, as ``make install`` renders it, on another folder."""
    unit = (REPO / "systemd" / "bpfman-restore.service.in").read_text()
    [line] = [ln for ln in unit.splitlines() if ln.startswith("ExecStart=")]
    command = line.removeprefix("ExecStart=").replace("@BINDIR@", str(bindir))
    return shlex.split(command.replace("/etc/bpfman/programs.d", str(programs_d)))


def test_the_restore_unit_verifies_and_its_command_applies_the_folder(
    root: Root, objects: Path, tmp_path: Path
) -> None:
    bindir = Path(sys.executable).parent
    unit = tmp_path / "bpfman-restore.service"
    text = (REPO / "systemd" / "bpfman-restore.service.in").read_text()
    unit.write_text(text.replace("@BINDIR@", str(bindir)))
    # --man=no: the man pages go to $(MANDIR), which this machine's man does not search.
    verify = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(unit)], capture_output=True, text=True
    )
    assert verify.returncode == 0 and verify.stdout + verify.stderr == "", verify.stderr
    for setting in ("Type=oneshot", "RemainAfterExit=yes", "After=network-online.target",
                    "Wants=network-online.target"):  # fmt: skip
        assert f"\n{setting}\n" in text
    # make install renders and installs it, enabling nothing: tests/test_service_units.py

    # Two files in programs.d: the program in one, its link in the other.
    programs_d = tmp_path / "programs.d"
    programs_d.mkdir()
    (programs_d / "10-counter.toml").write_text(
        '[[program]]\nname = "counter"\ntype = "tracepoint"\nfunction = "tracepoint_counter"\n'
        f'file = "{objects / "tracepoint_counter.bpf.o"}"\n'
    )
    (programs_d / "20-links.toml").write_text(
        '[[link]]\nprogram = "counter"\noptions = { tracepoint = "syscalls/sys_enter_getppid" }\n'
    )
    command = restore_command(bindir, programs_d)
    first = subprocess.run(command, env=root.env, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    [link] = links(root)
    assert link["attachment"] == "syscalls/sys_enter_getppid"
    again = subprocess.run(command, env=root.env, capture_output=True, text=True)
    assert again.stdout.splitlines() == [NOTHING]


# -- as an attacker, and as a crash -------------------------------------------------------
def test_unprivileged_users_get_one_line_and_nothing_is_written(
    root: Root, objects: Path, tmp_path: Path
) -> None:
    tmp_path.chmod(0o755)
    decl = tmp_path / "a.toml"
    decl.write_text(
        '[[program]]\nname = "a"\ntype = "tracepoint"\nfunction = "tracepoint_counter"\n'
        f'file = "{objects / "tracepoint_counter.bpf.o"}"\n'
    )
    nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable]
    env = {**root.env, "HOME": "/nonexistent"}
    for args in (["apply", decl], ["apply", "--check", decl], ["save", "-o", tmp_path / "out"]):
        proc = subprocess.run(
            [*nobody, "-m", "bpfman", "system", *map(str, args)],
            env=env, capture_output=True, text=True, cwd=REPO,
        )  # fmt: skip
        assert proc.returncode == 4, proc.stderr
        assert proc.stderr.splitlines() == [
            "Error: must be run as root (or with CAP_SYS_ADMIN and CAP_BPF)"
        ]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.toml"]
    assert not root.path.joinpath("db").exists()


@pytest.mark.parametrize(
    ("syscall", "call"), [("pwrite64", 3), ("pwrite64", 12), ("bpf", 30), ("bpf", 45)]
)
def test_an_apply_killed_half_way_is_finished_by_the_next(
    root: Root, objects: Path, tmp_path: Path, syscall: str, call: int
) -> None:
    """Each step is whole (the core's journal); a new apply does what is left."""
    obj = objects / "tracepoint_counter.bpf.o"
    decl = tmp_path / "three.toml"
    decl.write_text(
        "".join(
            f'[[program]]\nname = "p{i}"\ntype = "tracepoint"\nfunction = "tracepoint_counter"\n'
            f'file = "{obj}"\nglobals = {{ increment = "0{i}000000" }}\n'
            f'[[link]]\nprogram = "p{i}"\noptions = {{ tracepoint = "syscalls/sys_enter_getppid" }}\n'
            for i in range(1, 4)
        )
    )
    # Killed at a state write (pwrite64) or a kernel call (bpf) part of the way through.
    killed = subprocess.run(
        ["strace", "-f", "-qq", "-o", "/dev/null", "-e", f"trace={syscall}",
         "-e", f"inject={syscall}:signal=KILL:when={call}",
         sys.executable, "-m", "bpfman", "system", "apply", str(decl)],
        env=root.env, capture_output=True, text=True, cwd=REPO,
    )  # fmt: skip
    assert killed.returncode != 0, killed.stdout
    apply(root, decl)
    assert apply(root, decl) == [NOTHING]
    listed = root.json("list", "programs")
    assert len(listed) == 3
    assert len(links(root)) == 3
    assert len(links_of(*(row["id"] for row in listed))) == 3  # in the kernel, no more
