"""Crash consistency: SIGKILL at every kernel-facing syscall of every mutation.

Each mutating operation is run once under strace to count its calls of the
syscalls that change the kernel or the state (bpf, perf_event_open, netlink
sends, unlink/mkdir on bpffs, and LMDB's writes). Then, for each of those
calls, the operation is run again from the same starting point and killed
right there (``strace -e inject=SYSCALL:signal=KILL:when=N``). After each
kill one normal command runs (``bpfman list programs``, a reader: it must
finish the crashed writer's work itself), and the kernel, bpffs and state
must agree; then everything must still detach and unload, leaving nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from bpfman.core.manager import Bpfman
from tests.helpers.consistency import Hook, kernel_programs, problems
from tests.helpers.inject import counts, points, tampered, unload_all
from tests.helpers.net import VethPair
from tests.helpers.root import Root

SYSCALLS = (
    "bpf",
    "perf_event_open",
    "sendto",
    "sendmsg",
    "unlink",
    "unlinkat",
    "mkdir",
    "mkdirat",
    "pwrite64",
    "pwritev",
    "writev",
    "fdatasync",
)
MAX_PER_SYSCALL = 24


@dataclass
class Scenario:
    """One mutation, and how to bring a fresh root to the point where it runs."""

    name: str
    names: set[str]
    setup: Callable[[Bpfman, Path, VethPair], list[str]]


def _chain(mgr: Bpfman, objects: Path, kind: str, verdict: int, owner: int | None = None) -> int:
    [record] = mgr.load_file(
        objects / f"{kind}_chain.bpf.o",
        [f"{kind}:{kind}_chain"],
        globals={"prog_slot": bytes(4), "verdict": verdict.to_bytes(4, "little", signed=True)},
        map_owner_id=owner,
    )
    return record.id


def _where(pair: VethPair) -> list[str]:
    return ["-i", pair.if_b, "-p", "10", "-n", pair.netns_path_b]


def _load(mgr: Bpfman, objects: Path, pair: VethPair) -> list[str]:
    return [
        "load", "file", "-p", str(objects / "app_counter.bpf.o"), "--programs",
        "tracepoint:tracepoint_kill_recorder", "tcx:tcx_stats", "uprobe:uprobe_counter",
    ]  # fmt: skip


def _load_reference_style(mgr: Bpfman, objects: Path, pair: VethPair) -> list[str]:
    """A static program with a map pinned by name: nothing may land outside the root."""
    obj = str(objects / "kill_recorder.bpf.o")
    return ["load", "file", "-p", obj, "--programs", "tracepoint:tracepoint_kill_recorder"]


def _attach_xdp(mgr: Bpfman, objects: Path, pair: VethPair) -> list[str]:
    return ["attach", str(_chain(mgr, objects, "xdp", 2)), "xdp", *_where(pair)]


def _attach_tc(mgr: Bpfman, objects: Path, pair: VethPair) -> list[str]:
    prog = _chain(mgr, objects, "tc", 0)
    return ["attach", str(prog), "tc", "-d", "ingress", *_where(pair)]


def _attach_tcx(mgr: Bpfman, objects: Path, pair: VethPair) -> list[str]:
    first = _chain(mgr, objects, "tcx", -1)
    mgr.attach(
        first,
        {"direction": "ingress", "iface": pair.if_b, "priority": 100, "netns": pair.netns_path_b},
    )
    second = _chain(mgr, objects, "tcx", -1, owner=first)
    return ["attach", str(second), "tcx", "-d", "ingress", *_where(pair)]


def _attach_tracepoint(mgr: Bpfman, objects: Path, pair: VethPair) -> list[str]:
    [prog] = mgr.load_file(objects / "tracepoint_counter.bpf.o", ["tracepoint:tracepoint_counter"])
    return ["attach", str(prog.id), "tracepoint", "-t", "syscalls/sys_enter_getppid"]


def _attach_uprobe(mgr: Bpfman, objects: Path, pair: VethPair) -> list[str]:
    [prog] = mgr.load_file(objects / "uprobe_counter.bpf.o", ["uprobe:uprobe_counter"])
    return ["attach", str(prog.id), "uprobe", "-t", "libc", "-f", "malloc"]


def _detach_tc(mgr: Bpfman, objects: Path, pair: VethPair) -> list[str]:
    prog = _chain(mgr, objects, "tc", 0)
    where = {"iface": pair.if_b, "priority": 10, "netns": pair.netns_path_b}
    link = mgr.attach(prog, {**where, "direction": "egress"})
    return ["detach", str(link.id)]


def _detach_tcx(mgr: Bpfman, objects: Path, pair: VethPair) -> list[str]:
    first = _chain(mgr, objects, "tcx", -1)
    second = _chain(mgr, objects, "tcx", -1, owner=first)
    where = {"direction": "ingress", "iface": pair.if_b, "netns": pair.netns_path_b}
    link = mgr.attach(first, {**where, "priority": 5})
    mgr.attach(second, {**where, "priority": 6})
    return ["detach", str(link.id)]


def _unload_xdp(mgr: Bpfman, objects: Path, pair: VethPair) -> list[str]:
    prog = _chain(mgr, objects, "xdp", 2)
    mgr.attach(prog, {"iface": pair.if_b, "priority": 10, "netns": pair.netns_path_b})
    return ["unload", str(prog)]


def _unload_tc(mgr: Bpfman, objects: Path, pair: VethPair) -> list[str]:
    prog = _chain(mgr, objects, "tc", 0)
    where = {"iface": pair.if_b, "priority": 10, "netns": pair.netns_path_b}
    mgr.attach(prog, {**where, "direction": "ingress"})
    return ["unload", str(prog)]


def _attach_perf_event(mgr: Bpfman, objects: Path, pair: VethPair) -> list[str]:
    [prog] = mgr.load_file(objects / "perf_event_counter.bpf.o", ["perf_event:perf_event_counter"])
    return ["attach", str(prog.id), "perf_event", "-e", "cpu-clock", "-f", "100"]


def _detach_perf_event(mgr: Bpfman, objects: Path, pair: VethPair) -> list[str]:
    [prog] = mgr.load_file(objects / "perf_event_counter.bpf.o", ["perf_event:perf_event_counter"])
    link = mgr.attach(prog.id, {"event": "cpu-clock", "frequency": 100})
    return ["detach", str(link.id)]


CHAINS = {"xdp_chain", "tc_chain", "tcx_chain"}
SCENARIOS = [
    Scenario("load", {"tracepoint_kill_recorder", "tcx_stats", "uprobe_counter"}, _load),
    Scenario("load-reference-style", {"tracepoint_kill_recorder"}, _load_reference_style),
    Scenario("attach-xdp", CHAINS, _attach_xdp),
    Scenario("attach-tc", CHAINS, _attach_tc),
    Scenario("attach-tcx", CHAINS, _attach_tcx),
    Scenario("attach-tracepoint", {"tracepoint_counter"}, _attach_tracepoint),
    Scenario("attach-uprobe", {"uprobe_counter"}, _attach_uprobe),
    Scenario("attach-perf_event", {"perf_event_counter"}, _attach_perf_event),
    Scenario("detach-perf_event", {"perf_event_counter"}, _detach_perf_event),
    Scenario("detach-tc", CHAINS, _detach_tc),
    Scenario("detach-tcx", CHAINS, _detach_tcx),
    Scenario("unload-xdp", CHAINS, _unload_xdp),
    Scenario("unload-tc", CHAINS, _unload_tc),
]

# Read by conftest's terminal summary, which prints the figure after the run.
TOTALS = {"kills": 0, "inconsistent": 0}


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.name)
def test_kill_at_every_step_leaves_kernel_bpffs_and_state_agreeing(
    root: Root, objects: Path, scenario: Scenario, tmp_path: Path
) -> None:
    before = set(kernel_programs(scenario.names | {"xdp_dispatcher", "tc_dispatcher"}))
    with VethPair() as pair:
        hooks = [Hook(pair.if_b, pair.netns_path_b)]

        def fresh() -> list[str]:
            with Bpfman(root.path) as mgr:
                return scenario.setup(mgr, objects, pair)

        calls = counts(root, fresh(), SYSCALLS, tmp_path / "trace")
        unload_all(root)
        assert problems(root.path, hooks, scenario.names, before) == []
        kills = [
            (name, n) for name in SYSCALLS for n in points(calls.get(name, 0), MAX_PER_SYSCALL)
        ]
        found: list[str] = []
        for syscall, n in kills:
            tampered(root, fresh(), syscall, n, "signal=KILL")
            after = root.run("list", "programs", check=False)
            issues = [] if after.returncode == 0 else [f"list failed: {after.stderr.strip()}"]
            issues += problems(root.path, hooks, scenario.names, before)
            try:
                unload_all(root)
            except Exception as exc:  # reported with the kill point, below
                issues.append(f"unload after recovery failed: {exc}")
            issues += [
                f"after unload: {p}" for p in problems(root.path, hooks, scenario.names, before)
            ]
            TOTALS["kills"] += 1
            if issues:
                TOTALS["inconsistent"] += 1
                found.append(f"{syscall} call {n}: " + "; ".join(issues))
        assert found == []
