"""The kernel binding against the real kernel: objects, globals, pins, info, links.

The BPF programs are compiled here from inline C so this file depends on
nothing but clang and libbpf's headers. Everything observable is checked from
outside too (bpftool, bpffs), and every kernel object, mount and namespace the
test makes is removed in a finally block.
"""

from __future__ import annotations

import ctypes
import errno
import json
import logging
import os
import re
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from bpfman import kernel as k
from bpfman.errors import InvalidInputError, KernelError, NotFoundError, UnsupportedError
from tests.helpers.bpftool import bpftool
from tests.helpers.build import LazyObjects

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root to load BPF programs")

MAIN_C = r"""
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __u64);
} counter SEC(".maps");

volatile const __u32 increment = 1;
volatile const __u32 target_tgid = 0;
volatile const __s32 verdict = 0;
__u64 hits = 0;
char note[12] = "hello";

SEC("tracepoint/syscalls/sys_enter_getppid")
int count_getppid(void *ctx)
{
    __u32 key = 0;
    __u64 *value;

    if ((bpf_get_current_pid_tgid() >> 32) != target_tgid)
        return 0;
    value = bpf_map_lookup_elem(&counter, &key);
    if (value)
        __sync_fetch_and_add(value, increment);
    hits++;
    return 0;
}

SEC("tc")
int tc_verdict(struct __sk_buff *skb)
{
    return verdict;
}

SEC("tc")
int tc_other(struct __sk_buff *skb)
{
    return verdict;
}

char LICENSE[] SEC("license") = "GPL";
"""

# Reads packet data without a bounds check: the verifier must refuse it.
BAD_C = r"""
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("tc")
int unchecked(struct __sk_buff *skb)
{
    return *(__u8 *)(long)skb->data;
}

char LICENSE[] SEC("license") = "GPL";
"""

# Refused like BAD_C, but only after a bounded loop whose log outgrows the buffer.
LONG_LOG_C = r"""
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("tc")
int long_log(struct __sk_buff *skb)
{
    __u32 x = skb->len;

#pragma clang loop unroll(disable)
    for (int i = 0; i < 3000; i++) {
        x = x * 3 + i;
        asm volatile("" : "+r"(x));
    }
    return *(__u8 *)(long)skb->data + x;
}

char LICENSE[] SEC("license") = "GPL";
"""

FENTRY_C = r"""
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("fentry")
int on_entry(void *ctx)
{
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
"""

UPROBE_C = r"""
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __u64);
} calls SEC(".maps");

SEC("uprobe")
int on_call(void *ctx)
{
    __u32 key = 0;
    __u64 *value = bpf_map_lookup_elem(&calls, &key);

    if (value)
        __sync_fetch_and_add(value, 1);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
"""

XDP_C = r"""
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
    return XDP_PASS;
}

SEC("xdp")
int xdp_drop(struct xdp_md *ctx)
{
    return XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
"""

# Counters for the VM lane's positive paths: a kprobe/kretprobe, an fentry.
PROBE_C = r"""
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __u64);
} hits SEC(".maps");

volatile const __u32 target_tgid = 0;

static __always_inline int count(void)
{
    __u32 key = 0;
    __u64 *value;

    if ((bpf_get_current_pid_tgid() >> 32) != target_tgid)
        return 0;
    value = bpf_map_lookup_elem(&hits, &key);
    if (value)
        __sync_fetch_and_add(value, 1);
    return 0;
}

SEC("kprobe")
int on_kprobe(void *ctx)
{
    return count();
}

SEC("fentry")
int on_fentry(void *ctx)
{
    return count();
}

char LICENSE[] SEC("license") = "GPL";
"""

# An XDP program calling a global stub that an freplace program replaces.
STUB_C = r"""
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

__attribute__((noinline)) int stub(struct xdp_md *ctx)
{
    volatile int ret = XDP_PASS;

    if (!ctx)
        return XDP_ABORTED;
    return ret;
}

SEC("xdp")
int xdp_main(struct xdp_md *ctx)
{
    return stub(ctx);
}

SEC("freplace")
int replacement(struct xdp_md *ctx)
{
    return XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
"""

XDP_DROP, XDP_PASS = 1, 2

# A user-space binary with one function for the uprobe to hit N times.
TARGET_C = r"""
#include <stdlib.h>
__attribute__((noinline)) int bpfman_target(int x) { __asm__ volatile(""); return x + 1; }
int main(int argc, char **argv)
{
    int n = atoi(argv[1]), s = 0;
    for (int i = 0; i < n; i++)
        s = bpfman_target(s);
    return s == n ? 0 : 1;
}
"""

TC_ACT_SHOT = 2
CLONE_NEWNET = 0x40000000


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> LazyObjects:
    sources = {
        "main": MAIN_C,
        "bad": BAD_C,
        "long_log": LONG_LOG_C,
        "fentry": FENTRY_C,
        "uprobe": UPROBE_C,
        "xdp": XDP_C,
        "probe": PROBE_C,
        "stub": STUB_C,
    }
    return LazyObjects(tmp_path_factory.mktemp("bpf"), sources)


@pytest.fixture(scope="module")
def uprobe_target(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """A native binary and the file offset of its bpfman_target function."""
    d = tmp_path_factory.mktemp("target")
    (d / "target.c").write_text(TARGET_C)
    binary = d / "target"
    subprocess.run(["clang", "-O2", "-o", str(binary), str(d / "target.c")], check=True)
    out = subprocess.run(
        ["objdump", "-d", "-F", "--disassemble=bpfman_target", str(binary)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    match = re.search(r"<bpfman_target> \(File Offset: (0x[0-9a-f]+)\)", out)
    assert match, out
    return binary, int(match.group(1), 16)


@pytest.fixture
def main_obj(compiled: LazyObjects) -> Iterator[k.BpfObject]:
    with k.BpfObject.open_file(compiled["main"]) as obj:
        yield obj


@contextmanager
def _mounted(fstype: str, where: Path) -> Iterator[Path]:
    where.mkdir()
    subprocess.run(["mount", "-t", fstype, fstype, str(where)], check=True)
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], check=True)


@pytest.fixture
def tracefs(tmp_path: Path) -> Iterator[Path]:
    """A private tracefs mount: the binding finds it through /proc/self/mounts."""
    with _mounted("tracefs", tmp_path / "tracefs") as where:
        yield where


def _u32(value: int) -> bytes:
    return value.to_bytes(4, sys.byteorder)


# -- opening and inspecting an object ---------------------------------------------


def test_import_is_lazy() -> None:
    code = (
        "import sys, bpfman.kernel\n"
        "assert 'cffi' not in sys.modules and 'pyroute2' not in sys.modules, sys.modules.keys()\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_programs_maps_and_globals(main_obj: k.BpfObject) -> None:
    assert main_obj.programs() == [
        k.ProgramSpec(
            "count_getppid", "tracepoint/syscalls/sys_enter_getppid", k.PROG_TYPE.TRACEPOINT
        ),
        k.ProgramSpec("tc_verdict", "tc", k.PROG_TYPE.SCHED_CLS),
        k.ProgramSpec("tc_other", "tc", k.PROG_TYPE.SCHED_CLS),
    ]
    maps = {m.name: m for m in main_obj.maps()}
    assert maps["counter"] == k.MapSpec("counter", "array", False)
    internal = sorted(m.name.rsplit(".", 1)[-1] for m in maps.values() if m.internal)
    assert internal == ["bss", "data", "rodata"]
    assert main_obj.global_sizes() == {
        "increment": 4,
        "target_tgid": 4,
        "verdict": 4,
        "hits": 8,
        "note": 12,
    }


def test_select_unknown_function_lists_functions(main_obj: k.BpfObject) -> None:
    with pytest.raises(NotFoundError) as exc:
        main_obj.select(["count_getppid", "nope"])
    msg = str(exc.value)
    assert "nope" in msg
    assert "count_getppid, tc_verdict, tc_other" in msg


def test_set_global_rejects_bad_input(main_obj: k.BpfObject) -> None:
    with pytest.raises(InvalidInputError, match="global increment is 4 bytes, got 2"):
        main_obj.set_global("increment", b"\x01\x00")
    with pytest.raises(InvalidInputError, match="no global variable missing") as exc:
        main_obj.set_global("missing", b"\x01")
    assert "increment" in str(exc.value) and "verdict" in str(exc.value)


def test_malformed_object_is_invalid_input_and_libbpf_stays_quiet(tmp_path: Path) -> None:
    code = (
        "from bpfman.kernel import BpfObject\n"
        "from bpfman.errors import InvalidInputError\n"
        "try:\n"
        "    BpfObject.open_bytes(b'not an elf at all', 'junk')\n"
        "except InvalidInputError as e:\n"
        "    print(e)\n"
        "else:\n"
        "    raise SystemExit('opened junk')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    assert "junk is not a usable BPF object" in proc.stdout
    assert "libbpf" not in proc.stdout.split(":", 1)[0]


def test_open_missing_file_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        k.BpfObject.open_file(tmp_path / "absent.o")


# -- loading, pinning, info ----------------------------------------------------------


def test_load_pin_and_info(main_obj: k.BpfObject, bpffs: Path) -> None:
    main_obj.select(["tc_verdict"])
    main_obj.load()
    fd = main_obj.program_fd("tc_verdict")
    with pytest.raises(NotFoundError):
        main_obj.program_fd("count_getppid")
    pin = str(bpffs / "prog")
    k.obj_pin(fd, pin)
    info = k.prog_info(fd)

    with k.obj_get(pin) as pinned:
        assert k.prog_info(pinned.fd).id == info.id
    with k.prog_fd_by_id(info.id) as by_id:
        assert k.prog_info(by_id.fd).tag == info.tag

    shown = bpftool("prog", "show", "id", str(info.id))
    assert isinstance(shown, dict)
    assert info.name == shown["name"] == "tc_verdict"
    assert info.type == k.PROG_TYPE.SCHED_CLS and info.type_name == "tc"
    assert info.tag == shown["tag"] and len(info.tag) == 16
    int(info.tag, 16)
    assert sorted(info.map_ids) == sorted(shown["map_ids"])
    assert info.btf_id == shown["btf_id"]
    assert info.gpl_compatible is True
    assert info.xlated_len == shown["bytes_xlated"]
    assert info.jited and info.jited_len == shown["bytes_jited"]
    assert info.memlock == int(shown["bytes_memlock"])
    assert info.verified_insns > 0
    assert info.loaded_at.tzinfo is not None
    assert abs(datetime.now().astimezone() - info.loaded_at) < timedelta(seconds=60)
    assert info.id in set(k.iter_prog_ids())

    counter = k.map_info(main_obj.map_fd("counter"))
    assert (counter.name, counter.type_name, counter.key_size, counter.max_entries) == (
        "counter",
        "array",
        4,
        1,
    )
    assert counter.id not in info.map_ids  # tc_verdict only reads .rodata
    (rodata_id,) = info.map_ids
    with k.map_fd_by_id(rodata_id) as rodata:
        assert k.map_info(rodata.fd).name.endswith(".rodata")


def test_missing_ids_and_pins_are_not_found(bpffs: Path) -> None:
    with pytest.raises(NotFoundError, match="no program with id 4294967295"):
        k.prog_fd_by_id(0xFFFFFFFF)
    with pytest.raises(NotFoundError):
        k.map_fd_by_id(0xFFFFFFFF)
    with pytest.raises(NotFoundError):
        k.obj_get(str(bpffs / "nothing"))


def test_verifier_rejection_carries_log_tail(compiled: LazyObjects) -> None:
    with k.BpfObject.open_file(compiled["bad"]) as obj, pytest.raises(KernelError) as exc:
        obj.load()
    err = exc.value
    assert err.errno == errno.EACCES
    assert err.operation == "load unchecked"
    assert "invalid access to packet" in err.verifier_log
    assert "verifier:" in str(err) and "invalid access to packet" in str(err)


def test_truncated_verifier_log_keeps_tail_and_says_why(compiled: LazyObjects) -> None:
    with k.BpfObject.open_file(compiled["long_log"]) as obj, pytest.raises(KernelError) as exc:
        obj.load()
    err = exc.value
    assert err.operation == "load long_log"
    assert "verifier refused it; its log exceeded" in err.detail
    assert "invalid access to packet" in str(err)


def test_prog_test_run_returns_global_verdict(main_obj: k.BpfObject) -> None:
    main_obj.set_global("verdict", _u32(TC_ACT_SHOT))
    main_obj.select(["tc_verdict"])
    main_obj.load()
    packet = bytes(14) + bytes(50)
    retval, duration = k.prog_test_run(main_obj.program_fd("tc_verdict"), packet, repeat=3)
    assert retval == TC_ACT_SHOT
    assert duration >= 0


def test_probe_prog_type() -> None:
    assert k.probe_prog_type(k.PROG_TYPE.XDP) is True
    assert k.probe_prog_type(k.PROG_TYPE.SCHED_CLS) is True


# -- tracepoint through a perf event link; globals change behaviour ------------------


def _count_getppid(
    obj: k.BpfObject, bpffs: Path, increment: int | None, calls: int, name: str
) -> int:
    obj.set_global("target_tgid", _u32(os.getpid()))
    if increment is not None:
        obj.set_global("increment", _u32(increment))
    obj.select(["count_getppid"])
    obj.load()
    pin = str(bpffs / name)
    k.obj_pin(obj.map_fd("counter"), pin)
    with k.perf_event_tracepoint("syscalls", "sys_enter_getppid") as event:
        link = k.link_create_perf_event(obj.program_fd("count_getppid"), event.fd)
    with link:
        info = k.link_info(link.fd)
        assert info.type == k.LINK_TYPE.PERF_EVENT
        assert info.prog_id == k.prog_info(obj.program_fd("count_getppid")).id
        for _ in range(calls):
            os.getppid()
    dump = bpftool("map", "dump", "pinned", pin)
    assert isinstance(dump, list)
    return int(dump[0]["formatted"]["value"])


def test_tracepoint_counts_with_global_increment(
    compiled: LazyObjects, bpffs: Path, tracefs: Path
) -> None:
    with k.BpfObject.open_file(compiled["main"]) as obj:
        assert _count_getppid(obj, bpffs, None, 4, "default") == 4
    with k.BpfObject.open_file(compiled["main"]) as obj:
        assert _count_getppid(obj, bpffs, 7, 4, "seven") == 28


def test_missing_tracepoint_is_not_found(tracefs: Path) -> None:
    with pytest.raises(NotFoundError, match="tracepoint syscalls/no_such_event not found"):
        k.perf_event_tracepoint("syscalls", "no_such_event")


# -- map sharing -----------------------------------------------------------------------


def test_reuse_map_shares_the_kernel_map(compiled: LazyObjects) -> None:
    with k.BpfObject.open_file(compiled["main"]) as first:
        first.select(["count_getppid"])
        first.load()
        with k.BpfObject.open_file(compiled["main"]) as second:
            second.select(["count_getppid"])
            second.reuse_map("counter", first.map_fd("counter"))
            second.load()
            ids = []
            for obj in (first, second):
                prog = k.prog_info(obj.program_fd("count_getppid"))
                shown = bpftool("prog", "show", "id", str(prog.id))
                assert isinstance(shown, dict)
                ids.append(set(shown["map_ids"]))
            shared = k.map_info(first.map_fd("counter")).id
            assert k.map_info(second.map_fd("counter")).id == shared
            assert shared in ids[0] and shared in ids[1]
            assert len(ids[0] & ids[1]) == 1  # only the counter; globals stay private


# -- TCX ordering ------------------------------------------------------------------------

_libc = ctypes.CDLL(None, use_errno=True)


@contextmanager
def _inside_netns(name: str) -> Iterator[None]:
    """Move this thread into a named netns for the block, then back."""
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        target = os.open(f"/var/run/netns/{name}", os.O_RDONLY)
        try:
            if _libc.setns(target, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns")
        finally:
            os.close(target)
        try:
            yield
        finally:
            if _libc.setns(home, CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "setns back")
    finally:
        os.close(home)


@pytest.fixture
def veth_netns() -> Iterator[str]:
    name = f"bpfman-kt-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        ip = ["ip", "-n", name, "link"]
        subprocess.run([*ip, "add", "kt0", "type", "veth", "peer", "name", "kt1"], check=True)
        subprocess.run([*ip, "set", "kt0", "up"], check=True)
        subprocess.run([*ip, "set", "kt1", "up"], check=True)
        yield name
    finally:
        subprocess.run(["ip", "netns", "delete", name], check=True)


def test_tcx_before_and_after_order_the_chain(
    main_obj: k.BpfObject, compiled: LazyObjects, veth_netns: str
) -> None:
    main_obj.select(["tc_verdict", "tc_other"])
    main_obj.load()
    first_fd = main_obj.program_fd("tc_verdict")
    second_fd = main_obj.program_fd("tc_other")
    first_id = k.prog_info(first_fd).id
    second_id = k.prog_info(second_fd).id
    with k.BpfObject.open_file(compiled["main"]) as other, _inside_netns(veth_netns):
        other.select(["tc_verdict"])
        other.load()
        third_fd = other.program_fd("tc_verdict")
        third_id = k.prog_info(third_fd).id
        ifindex = socket.if_nametoindex("kt0")
        ingress = k.ATTACH_TYPE.TCX_INGRESS
        with k.link_create(first_fd, ifindex, ingress) as first:
            before = k.BPF_F_BEFORE | k.BPF_F_LINK
            with k.link_create(
                second_fd, ifindex, ingress, flags=before, relative_fd=first.fd
            ) as second:
                assert k.link_info(second.fd).type == k.LINK_TYPE.TCX
                chain = k.tcx_chain(ifindex, ingress)
                after = k.BPF_F_AFTER | k.BPF_F_ID
                with k.link_create(
                    third_fd,
                    ifindex,
                    ingress,
                    flags=after,
                    relative_id=first_id,
                    expected_revision=chain.revision,
                ) as third:
                    assert k.prog_query(ifindex, ingress) == [second_id, first_id, third_id]
                    links = [k.link_info(x.fd).id for x in (second, first, third)]
                    assert k.tcx_chain(ifindex, ingress).link_ids == links
                    assert k.prog_query(ifindex, k.ATTACH_TYPE.TCX_EGRESS) == []
                # A stale revision is refused: the chain changed since it was read.
                with pytest.raises(KernelError) as stale:
                    k.link_create(third_fd, ifindex, ingress, expected_revision=chain.revision)
                assert stale.value.operation == "link_create"
                assert stale.value.errno == errno.ESTALE
            assert k.prog_query(ifindex, ingress) == [first_id]
        assert k.prog_query(ifindex, ingress) == []


def _xdp_prog_id(netns: str, ifname: str) -> int | None:
    out = subprocess.run(
        ["ip", "-n", netns, "-j", "-d", "link", "show", ifname],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    xdp = json.loads(out)[0].get("xdp")
    return int(xdp["prog"]["id"]) if xdp else None


def test_xdp_link_update_and_detach(compiled: LazyObjects, veth_netns: str) -> None:
    with k.BpfObject.open_file(compiled["xdp"]) as obj, _inside_netns(veth_netns):
        obj.load()
        pass_fd, drop_fd = obj.program_fd("xdp_pass"), obj.program_fd("xdp_drop")
        pass_id, drop_id = k.prog_info(pass_fd).id, k.prog_info(drop_fd).id
        ifindex = socket.if_nametoindex("kt0")
        with k.link_create(pass_fd, ifindex, k.ATTACH_TYPE.XDP) as link:
            assert k.link_info(link.fd).type == k.LINK_TYPE.XDP
            assert _xdp_prog_id(veth_netns, "kt0") == pass_id
            k.link_update(link.fd, drop_fd, old_prog_fd=pass_fd)
            assert _xdp_prog_id(veth_netns, "kt0") == drop_id
            assert k.link_info(link.fd).prog_id == drop_id
            with pytest.raises(KernelError) as stale:
                k.link_update(link.fd, pass_fd, old_prog_fd=pass_fd)
            assert stale.value.errno == errno.EPERM
            k.link_detach(link.fd)
            assert _xdp_prog_id(veth_netns, "kt0") is None


def test_prog_func_btf_id_matchesbpftool(compiled: LazyObjects) -> None:
    with k.BpfObject.open_file(compiled["xdp"]) as obj:
        obj.load()
        fd = obj.program_fd("xdp_drop")
        type_id = k.prog_func_btf_id(fd, "xdp_drop")
        dump = bpftool("btf", "dump", "id", str(k.prog_info(fd).btf_id))
        assert isinstance(dump, dict)
        funcs = {t["name"]: t["id"] for t in dump["types"] if t["kind"] == "FUNC"}
        assert funcs["xdp_drop"] == type_id
        with pytest.raises(NotFoundError, match="function prog0 not found"):
            k.prog_func_btf_id(fd, "prog0")


# -- uprobes, globals in every section, logging -------------------------------------------


def test_uprobe_counts_calls(
    compiled: LazyObjects, uprobe_target: tuple[Path, int], bpffs: Path
) -> None:
    binary, offset = uprobe_target
    with k.BpfObject.open_file(compiled["uprobe"]) as obj:
        obj.load()
        pin = str(bpffs / "calls")
        k.obj_pin(obj.map_fd("calls"), pin)
        for retprobe in (False, True):
            with k.perf_event_uprobe(str(binary), offset, retprobe=retprobe) as event:
                link = k.link_create_perf_event(obj.program_fd("on_call"), event.fd)
            with link:
                subprocess.run([str(binary), "5"], check=True)
        dump = bpftool("map", "dump", "pinned", pin)
        assert isinstance(dump, list)
        assert dump[0]["formatted"]["value"] == 10


def test_globals_in_data_and_bss_reach_the_kernel(main_obj: k.BpfObject) -> None:
    main_obj.set_global("hits", (41).to_bytes(8, sys.byteorder))
    main_obj.set_global("note", b"bpfman rocks")
    main_obj.select(["count_getppid"])
    main_obj.load()
    seen: dict[str, object] = {}
    for spec in main_obj.maps():
        if spec.internal:
            map_id = k.map_info(main_obj.map_fd(spec.name)).id
            dump = bpftool("map", "dump", "id", str(map_id))
            assert isinstance(dump, list)
            for section in dump[0]["formatted"]["value"].values():
                for var in section:
                    seen.update(var)
    assert seen["hits"] == 41
    assert seen["increment"] == 1
    assert seen["note"] == list(b"bpfman rocks")
    with pytest.raises(InvalidInputError, match="after the program is loaded"):
        main_obj.set_global("hits", bytes(8))


def test_libbpf_messages_go_to_logging(
    compiled: LazyObjects, caplog: pytest.LogCaptureFixture
) -> None:
    with (
        caplog.at_level(logging.DEBUG, logger="bpfman.libbpf"),
        k.capture_libbpf_messages() as warnings,
    ):
        k.BpfObject.open_file(compiled["main"]).close()
    assert any("loading object" in r.getMessage() for r in caplog.records)
    assert all(r.name == "bpfman.libbpf" for r in caplog.records)
    assert warnings == []  # only warnings are captured, and opening warns about nothing


# -- what this host cannot do must fail cleanly -------------------------------------------


def test_kprobe_needs_kernel_support() -> None:
    if os.path.exists("/sys/bus/event_source/devices/kprobe"):
        with k.perf_event_kprobe("do_sys_openat2", 0, retprobe=False) as event:
            assert event.fd >= 0
    else:
        with pytest.raises(
            UnsupportedError, match=r"kprobes not supported by kernel .*CONFIG_KPROBES"
        ):
            k.perf_event_kprobe("do_sys_openat2", 0, retprobe=False)


def test_fentry_loads_or_fails_with_clean_kernel_error(compiled: LazyObjects) -> None:
    with k.BpfObject.open_file(compiled["fentry"]) as obj:
        obj.set_attach_target("on_entry", "do_sys_openat2")
        try:
            obj.load()
        except KernelError as err:
            # This host's security policy refuses tracing programs.
            assert err.errno == errno.EPERM, err
            assert err.operation == "load on_entry"
            return
        with k.raw_tracepoint_open(obj.program_fd("on_entry")) as link:
            assert k.link_info(link.fd).type == k.LINK_TYPE.TRACING


def test_freplace_loads_or_fails_with_clean_kernel_error(compiled: LazyObjects) -> None:
    with k.BpfObject.open_file(compiled["stub"]) as target:
        target.select(["xdp_main"])
        target.load()
        with k.BpfObject.open_file(compiled["stub"]) as ext:
            ext.select(["replacement"])
            ext.set_attach_target(
                "replacement", "stub", attach_prog_fd=target.program_fd("xdp_main")
            )
            try:
                ext.load()
            except KernelError as err:
                assert err.errno == errno.EPERM, err  # this host refuses extension programs
                assert err.operation == "load replacement"
            else:
                assert k.prog_info(ext.program_fd("replacement")).type == k.PROG_TYPE.EXT


def test_fentry_unknown_target_is_not_found(compiled: LazyObjects) -> None:
    with (
        k.BpfObject.open_file(compiled["fentry"]) as obj,
        pytest.raises(NotFoundError, match="function no_such_fn_xyz not found in the kernel"),
    ):
        obj.set_attach_target("on_entry", "no_such_fn_xyz")


def test_uprobe_on_missing_file_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        k.perf_event_uprobe(str(tmp_path / "absent"), 0, retprobe=False)


# -- positive paths the host kernel refuses: run in the VM lane -------------------------


def _unlink_files(directory: Path, count: int) -> None:
    for i in range(count):
        path = directory / f"victim{i}"
        path.write_text("x")
        path.unlink()


def _hits(obj: k.BpfObject) -> int:
    dump = bpftool("map", "dump", "id", str(k.map_info(obj.map_fd("hits")).id))
    assert isinstance(dump, list)
    return int(dump[0]["formatted"]["value"])


@pytest.mark.vm
def test_vm_kprobe_and_kretprobe_count_calls(compiled: LazyObjects, tmp_path: Path) -> None:
    with k.BpfObject.open_file(compiled["probe"]) as obj:
        obj.set_global("target_tgid", _u32(os.getpid()))
        obj.select(["on_kprobe"])
        obj.load()
        for retprobe in (False, True):
            with k.perf_event_kprobe("do_unlinkat", 0, retprobe=retprobe) as event:
                link = k.link_create_perf_event(obj.program_fd("on_kprobe"), event.fd)
            with link:
                assert k.link_info(link.fd).type == k.LINK_TYPE.PERF_EVENT
                _unlink_files(tmp_path, 3)
        assert _hits(obj) == 6
        with pytest.raises(NotFoundError, match="kernel function no_such_fn_xyz not found"):
            k.perf_event_kprobe("no_such_fn_xyz", 0, retprobe=False)


@pytest.mark.vm
def test_vm_fentry_attaches_and_pins(compiled: LazyObjects, tmp_path: Path, bpffs: Path) -> None:
    with k.BpfObject.open_file(compiled["probe"]) as obj:
        obj.set_global("target_tgid", _u32(os.getpid()))
        obj.select(["on_fentry"])
        obj.set_attach_target("on_fentry", "do_unlinkat")
        obj.load()
        assert k.prog_info(obj.program_fd("on_fentry")).type_name == "tracing"
        with k.raw_tracepoint_open(obj.program_fd("on_fentry")) as link:
            assert k.link_info(link.fd).type == k.LINK_TYPE.TRACING
            k.obj_pin(link.fd, str(bpffs / "link"))
        _unlink_files(tmp_path, 4)  # the pin keeps the link attached
        assert _hits(obj) == 4


@pytest.mark.vm
def test_vm_freplace_replaces_stub(compiled: LazyObjects) -> None:
    packet = bytes(64)
    with k.BpfObject.open_file(compiled["stub"]) as target:
        target.select(["xdp_main"])
        target.load()
        xdp_fd = target.program_fd("xdp_main")
        assert k.prog_test_run(xdp_fd, packet)[0] == XDP_PASS
        with k.BpfObject.open_file(compiled["stub"]) as ext:
            ext.select(["replacement"])
            ext.set_attach_target("replacement", "stub", attach_prog_fd=xdp_fd)
            ext.load()
            btf_id = k.prog_func_btf_id(xdp_fd, "stub")
            with k.link_create(
                ext.program_fd("replacement"), xdp_fd, 0, target_btf_id=btf_id
            ) as link:
                assert k.link_info(link.fd).type == k.LINK_TYPE.TRACING
                assert k.prog_test_run(xdp_fd, packet)[0] == XDP_DROP
        assert k.prog_test_run(xdp_fd, packet)[0] == XDP_PASS
