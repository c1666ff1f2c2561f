"""Do the kernel, bpffs and bpfman's state agree? Checked from outside.

Used after crashes, corruption and attacks: every recorded object exists in
the kernel and on bpffs, every pin on bpffs is recorded, the hooks of the
test's interfaces run exactly what the state says, and no program bpfman
made is left in the kernel without a record.
"""

from __future__ import annotations

import os
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bpfman.core.bpffs import KERNEL_ENTRIES, Layout
from bpfman.core.state import Store
from tests.helpers import run
from tests.helpers.bpftool import bpftool, net_show
from tests.helpers.wait import eventually

DISPATCHER_NAMES = {"xdp_dispatcher", "tc_dispatcher"}


@dataclass
class Hook:
    """An interface of the test whose XDP, TC and TCX hooks are checked."""

    iface: str
    netns: str  # /var/run/netns path


@dataclass
class Snapshot:
    programs: dict[int, Any] = field(default_factory=dict)
    links: dict[int, Any] = field(default_factory=dict)
    plugins: dict[str, dict[str, Any]] = field(default_factory=dict)
    journal: list[Any] = field(default_factory=list)


def state(root: Path) -> Snapshot:
    """bpfman's records, read as any reader would (no lock)."""
    store = Store(Layout(root).db)
    snap = Snapshot()
    try:
        if not store.exists():
            return snap
        with store.read() as txn:
            snap.programs = {p.id: p for p in txn.programs()}
            snap.links = {link.id: link for link in txn.links()}
            for ns in ("xdp", "tc", "tc-qdisc"):
                snap.plugins[ns] = dict(txn.plugin_items(ns))
            snap.journal = txn.journal()
    finally:
        store.close()
    return snap


def pins(fs: Path) -> set[str]:
    """Every pin (not directory) under bpfman's bpffs, the kernel's own excepted."""
    found = set()
    for dirpath, _, files in os.walk(fs):
        for name in files:
            if dirpath == str(fs) and name in KERNEL_ENTRIES:
                continue
            found.add(os.path.join(dirpath, name))
    return found


def pinned_prog_id(path: str) -> int:
    return int(bpftool("prog", "show", "pinned", path)["id"])


def kernel_programs(names: set[str]) -> dict[int, str]:
    """Unpinned programs in the kernel named one of ``names`` (see :func:`named`).

    A program pinned on any bpffs belongs to some root (other tests may run
    beside this one); one that bpfman leaked is unpinned and held by a hook.
    """
    return {
        int(p["id"]): p.get("name", "")
        for p in bpftool("-f", "prog", "show")
        if named(p, names) and not p.get("pinned")
    }


def named(prog: dict[str, Any], names: Collection[str]) -> bool:
    """Whether bpftool's ``prog`` is one of ``names``: bpftool shows the full name (from
    BTF) where it can, else the kernel's 15 characters."""
    name = str(prog.get("name", ""))
    return any(name in (n, n[:15]) for n in names)


def problems(root: Path, hooks: list[Hook], names: set[str], before: set[int]) -> list[str]:
    """Everything that disagrees; an empty list when kernel, bpffs and state agree."""
    out: list[str] = []
    snap = state(root)
    fs = root / "fs"
    on_fs = pins(fs)
    if snap.journal:
        out.append(f"journal not empty: {snap.journal}")
    recorded: set[str] = set()
    for prog in snap.programs.values():
        recorded.add(prog.pin)
        if prog.pin not in on_fs:
            out.append(f"program {prog.id} recorded but its pin {prog.pin} is gone")
        elif pinned_prog_id(prog.pin) != prog.id:
            out.append(f"pin {prog.pin} holds another program")
    for link in snap.links.values():
        if link.program_id not in snap.programs:
            out.append(f"link {link.id} belongs to no recorded program")
        if link.pin:
            recorded.add(link.pin)
            if link.pin not in on_fs:
                out.append(f"link {link.id} recorded but its pin is gone")
    map_dirs = {p.map_pin_path for p in snap.programs.values()}
    perf_dirs = {str(link.params["pins"]) for link in snap.links.values() if "pins" in link.params}
    for link in snap.links.values():
        if link.type == "perf_event":
            held = [p for p in on_fs if Path(p).parent == Path(link.params["pins"])]
            if len(held) != max(len(link.params.get("cpus") or []), 1):
                out.append(f"perf_event link {link.id} records {link.params} but pins {held}")
    for path in on_fs:
        rel = Path(path).relative_to(fs)
        if rel.parts[0] == "maps":
            if str(fs / "maps" / rel.parts[1]) not in map_dirs:
                out.append(f"map pin {path} belongs to no recorded program")
            continue
        if rel.parts[0] in ("xdp", "tc"):
            states = snap.plugins.get(rel.parts[0], {}).values()
            referenced = {s["dir"] for s in states} | {
                str(v) for s in states for v in s["attach"].values()
            }
            if str(fs / rel.parts[0] / rel.parts[1]) not in referenced:
                out.append(f"{path} is referenced by no recorded hook")
            continue
        if rel.parts[0] == "perf_event":  # one directory of per-CPU link pins per link
            if str(fs / "perf_event" / rel.parts[1]) not in perf_dirs:
                out.append(f"{path} belongs to no recorded perf_event link")
            continue
        if path not in recorded:
            out.append(f"{path} is pinned but not recorded")
    out += _hooks(snap, hooks)
    leaked = _leaked(snap, names, before)
    if leaked:
        out.append(f"programs left in the kernel without a record: {leaked}")
    return out


def _hooks(snap: Snapshot, hooks: list[Hook]) -> list[str]:
    out = []
    for hook in hooks:
        shown = net_show(hook.iface, hook.netns)
        xdp_states = [s for s in snap.plugins.get("xdp", {}).values() if s["iface"] == hook.iface]
        running = [e["id"] for e in shown["xdp"]]
        wanted = [pinned_prog_id(s["prog_pin"]) for s in xdp_states]
        if sorted(running) != sorted(wanted):
            out.append(f"xdp on {hook.iface}: kernel runs {running}, state says {wanted}")
        for direction in ("ingress", "egress"):
            tc_states = [
                s
                for s in snap.plugins.get("tc", {}).values()
                if s["iface"] == hook.iface and s["direction"] == direction
            ]
            filters = [e["id"] for e in shown["tc"] if e.get("kind") == f"clsact/{direction}"]
            wanted = [pinned_prog_id(s["prog_pin"]) for s in tc_states]
            if sorted(filters) != sorted(wanted):
                out.append(
                    f"tc {direction} on {hook.iface}: kernel runs {filters}, state says {wanted}"
                )
            tcx_links = [
                link
                for link in snap.links.values()
                if link.type == "tcx"
                and link.params["iface"] == hook.iface
                and link.params["direction"] == direction
            ]
            kernel_order = [e["prog_id"] for e in shown["tcx"] if e["kind"] == f"tcx/{direction}"]
            wanted_order = [
                link.program_id for link in sorted(tcx_links, key=lambda ln: ln.order_key)
            ]
            if kernel_order != wanted_order:
                out.append(
                    f"tcx {direction} on {hook.iface}: kernel order {kernel_order}, "
                    f"state says {wanted_order}"
                )
        qdiscs = run(["tc", "-n", os.path.basename(hook.netns), "qdisc", "show", "dev", hook.iface])
        has_clsact = "clsact" in qdiscs
        tc_hooks = [s for s in snap.plugins.get("tc", {}).values() if s["iface"] == hook.iface]
        if has_clsact and not tc_hooks:
            out.append(f"clsact on {hook.iface} with no tc hook recorded (a stray qdisc)")
        if tc_hooks and not has_clsact:
            out.append(f"tc hooks recorded on {hook.iface} but no clsact qdisc")
    return out


def _leaked(snap: Snapshot, names: set[str], before: set[int], wait: float = 3.0) -> list[int]:
    """Programs with the test's names, new since ``before``, that nothing records or runs.

    The kernel frees programs a killed process held asynchronously, so this
    polls for a moment before it calls anything a leak.
    """
    leaked: list[int] = []

    def none_leaked() -> bool:
        owned = set(snap.programs)
        for states in (snap.plugins.get("xdp", {}), snap.plugins.get("tc", {})):
            for s in states.values():
                if s.get("prog_pin") and os.path.exists(s["prog_pin"]):
                    owned.add(pinned_prog_id(s["prog_pin"]))
        found = kernel_programs(names | DISPATCHER_NAMES)
        leaked[:] = sorted(set(found) - before - owned)
        return not leaked

    eventually(none_leaked, timeout=wait, interval=0.1)
    return leaked
