"""Read kernel BPF state from outside bpfman, so tests check what really happened.

Everything goes through bpftool's JSON output, except the TCX chain order:
bpftool 7.1 predates TCX, so that one is asked from the kernel directly with
BPF_PROG_QUERY.
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import socket
import sys
import time
from typing import Any

from tests.helpers import run
from tests.helpers.net import in_netns

BPF_PROG_QUERY = 16
BPF_TCX_INGRESS = 46
BPF_TCX_EGRESS = 47
SYS_BPF = {"x86_64": 321, "aarch64": 280}
TCX_QUERY_MAX = 64

_libc = ctypes.CDLL(None, use_errno=True)


def bpftool(*args: str, netns: str | None = None) -> Any:
    """Run `bpftool -j ARGS` (inside netns if given) and return the parsed JSON."""
    prefix = ["ip", "netns", "exec", os.path.basename(netns)] if netns else []
    for attempt in range(5):
        try:
            out = run([*prefix, "bpftool", "-j", *args])
            break
        except AssertionError as exc:
            # Walking every link or program races with one the kernel is freeing
            # (another process's): "can't get link by id (N): Resource temporarily
            # unavailable". Walk again.
            if "Resource temporarily unavailable" not in str(exc) or attempt == 4:
                raise
            time.sleep(0.05)
    try:
        return json.loads(out)
    except json.JSONDecodeError as exc:
        raise AssertionError(f"bpftool {' '.join(args)}: not JSON: {out!r}") from exc


def _le_int(hex_bytes: list[str]) -> int:
    return int.from_bytes(bytes(int(b, 16) for b in hex_bytes), sys.byteorder)


def map_values(pin_or_id: str | int) -> dict[int, int]:
    """Entries of an ARRAY map as {key: value}, by pinned path (str) or map id (int)."""
    how = ["id", str(pin_or_id)] if isinstance(pin_or_id, int) else ["pinned", pin_or_id]
    entries = bpftool("map", "dump", *how)
    return {_le_int(e["key"]): _le_int(e["value"]) for e in entries}


def prog_show(prog_id: int) -> dict[str, Any]:
    """bpftool's view of one program (id, type, name, tag, map_ids...)."""
    info: dict[str, Any] = bpftool("prog", "show", "id", str(prog_id))
    return info


def prog_ids() -> set[int]:
    """Ids of every program loaded in the kernel."""
    return {int(p["id"]) for p in bpftool("prog", "show")}


def links_of(*prog_ids: int) -> list[int]:
    """Ids of the kernel links that run one of these programs."""
    return [int(link["id"]) for link in bpftool("link", "show") if link["prog_id"] in prog_ids]


def link_infos(prog_id: int) -> list[dict[str, Any]]:
    """The kernel's links of a program (bpftool ``link show``); a link whose last
    reference went is freed asynchronously, so poll after a detach."""
    return [link for link in bpftool("link", "show") if link.get("prog_id") == prog_id]


def map_ids_of_prog(prog_id: int) -> list[int]:
    """Ids of the maps a program uses, including its .rodata/.data/.bss."""
    return [int(m) for m in prog_show(prog_id).get("map_ids", [])]


def find_map_id(prog_id: int, map_name: str) -> int:
    """Id of the program's map called map_name (the kernel keeps 15 characters)."""
    names: list[str] = []
    for map_id in map_ids_of_prog(prog_id):
        name = str(bpftool("map", "show", "id", str(map_id)).get("name", ""))
        if name == map_name[:15]:
            return map_id
        names.append(name)
    raise AssertionError(f"program {prog_id} has no map {map_name!r}; it has {names}")


class _QueryAttr(ctypes.Structure):
    """The BPF_PROG_QUERY member of union bpf_attr (6.6+ layout, with link ids)."""

    _fields_ = (
        ("target_ifindex", ctypes.c_uint32),
        ("attach_type", ctypes.c_uint32),
        ("query_flags", ctypes.c_uint32),
        ("attach_flags", ctypes.c_uint32),
        ("prog_ids", ctypes.c_uint64),
        ("count", ctypes.c_uint32),
        ("pad", ctypes.c_uint32),
        ("prog_attach_flags", ctypes.c_uint64),
        ("link_ids", ctypes.c_uint64),
        ("link_attach_flags", ctypes.c_uint64),
        ("revision", ctypes.c_uint64),
    )


def _tcx_query(ifname: str) -> list[dict[str, Any]]:
    """TCX links on ifname in the calling thread's netns, ingress then egress, in run order."""
    ifindex = socket.if_nametoindex(ifname)
    found: list[dict[str, Any]] = []
    for attach_type, kind in ((BPF_TCX_INGRESS, "tcx/ingress"), (BPF_TCX_EGRESS, "tcx/egress")):
        progs = (ctypes.c_uint32 * TCX_QUERY_MAX)()
        links = (ctypes.c_uint32 * TCX_QUERY_MAX)()
        attr = _QueryAttr(
            target_ifindex=ifindex,
            attach_type=attach_type,
            prog_ids=ctypes.addressof(progs),
            count=TCX_QUERY_MAX,
            link_ids=ctypes.addressof(links),
        )
        nr = SYS_BPF[os.uname().machine]
        if _libc.syscall(nr, BPF_PROG_QUERY, ctypes.byref(attr), ctypes.sizeof(attr)) != 0:
            err = ctypes.get_errno()
            if err == errno.EINVAL and attach_type == BPF_TCX_INGRESS:
                return []  # a kernel before 6.6 has no TCX, so nothing is attached
            raise AssertionError(f"BPF_PROG_QUERY {kind} on {ifname}: {os.strerror(err)}")
        found.extend(
            {
                "devname": ifname,
                "ifindex": ifindex,
                "kind": kind,
                "prog_id": int(progs[i]),
                "link_id": int(links[i]),
            }
            for i in range(attr.count)
        )
    return found


def mprog_query(target: int, attach_type: int, max_progs: int = TCX_QUERY_MAX) -> list[int]:
    """Program ids on a kernel-ordered hook (tcx, netkit: an ifindex in the calling
    thread's netns; cgroup: a directory fd), in run order, by BPF_PROG_QUERY."""
    progs = (ctypes.c_uint32 * max_progs)()
    attr = _QueryAttr(
        target_ifindex=target,
        attach_type=attach_type,
        prog_ids=ctypes.addressof(progs),
        count=max_progs,
    )
    nr = SYS_BPF[os.uname().machine]
    if _libc.syscall(nr, BPF_PROG_QUERY, ctypes.byref(attr), ctypes.sizeof(attr)) != 0:
        err = ctypes.get_errno()
        raise AssertionError(f"BPF_PROG_QUERY {attach_type} on {target}: {os.strerror(err)}")
    return [int(progs[i]) for i in range(attr.count)]


def net_show(ifname: str, netns: str) -> dict[str, Any]:
    """Programs attached to ifname inside netns (a name or /var/run/netns path).

    bpftool's `net show dev` dict: "xdp" entries, "tc" filters in the order tc runs
    them (each with the program "id"), "flow_dissector"; plus "tcx": TCX links in
    kernel run order, each with "kind" (tcx/ingress|tcx/egress), "prog_id", "link_id".
    """
    shown = bpftool("net", "show", "dev", ifname, netns=netns)
    result: dict[str, Any] = shown[0] if shown else {"xdp": [], "tc": [], "flow_dissector": []}
    result["tcx"] = in_netns(netns, lambda: _tcx_query(ifname))
    return result
