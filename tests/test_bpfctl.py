"""bpfctl, the client of the bpfd guide (seed 001), on a real kernel.

Every command example of the guide runs as the guide writes it, with only
paths, interface names and image URLs adapted: the objects are compiled here
under the guide's file and function names, the interfaces are veth pairs in
namespaces the tests create (bpfctl runs inside the namespace, by ``nsenter
--net``), and the images come from a loopback registry. Each test runs twice:
in-process as root with no service, and over the service's socket as
``nobody`` in the socket's group, with the service running as root without
CAP_DAC_OVERRIDE as the shipped unit runs it. What happened is checked from
outside: bpftool shows the hooks, real packets cross the pair, and the
programs' counters are read from their pinned maps.

The loopback registry asks for a login, so each test first fills its root's
image cache with ``pull-bytecode -r``; the guide's image examples, which give no
credentials, are then served from the cache (IfNotPresent, the default).

The guide's multi-program xdp/tc examples and its kprobe examples need
freplace and kprobes, which this host refuses: tests/test_bpfctl_vm.py runs
them in the VM lane.
"""

from __future__ import annotations

import contextlib
import ctypes
import grp
import io
import os
import secrets
import shutil
import signal
import site
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pytest

from bpfman.bpfctl.listening import answers
from bpfman.bpfctl.remote import FILE_HINT
from bpfman.images import BytecodeSources, ImageSettings
from bpfman.images.build import build_native
from tests.helpers import shown_rows
from tests.helpers.bpftool import find_map_id, map_values, net_show, prog_show
from tests.helpers.build import REPO_ROOT, compile_bpf
from tests.helpers.consistency import Hook, kernel_programs, problems
from tests.helpers.net import VethPair
from tests.helpers.registry import Registry, infer_type
from tests.helpers.root import IN_PROCESS, REPO, Root
from tests.helpers.service import READY_TIMEOUT, running_service
from tests.helpers.wait import eventually

PORT = 4242
PACKETS = 10
TRACEPOINT = "syscalls/sys_enter_getppid"
# bpfctl's backend choice: this path never answers, so bpfctl works in-process.
NO_SERVICE = "no-service.sock"
# The service as bpfman.service runs it: root, but root's files only (no DAC override).
SERVICE_CAPS = ["setpriv", "--bounding-set=-dac_override,-dac_read_search", "--"]
SITE_PACKAGES = site.getsitepackages()[0]
CLONE_NEWNET = 0x40000000

# -- the guide's objects and images ----------------------------------------------
CHAIN_H = REPO_ROOT / "bpf" / "chain.h"  # counts[] and chain_matches(): UDP to port 4242
PRELUDE = f"""
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include "{CHAIN_H}"
char LICENSE[] SEC("license") = "Dual BSD/GPL";
"""
PASS = """
SEC("{section}") int pass(struct xdp_md *ctx)
{
    if (chain_matches((void *)(long)ctx->data, (void *)(long)ctx->data_end))
        counter_add(&counts, 0, 1);
    return XDP_PASS;
}
"""
SOURCES = {
    # xdp-tutorial's basic01: "pass", and "xdp" for the proceed-on example (drops ours).
    # A function cannot share its name with a section of its object (clang refuses
    # symbol "xdp" beside section "xdp"), so neither sits in plain SEC("xdp") here.
    "xdp_pass_kern.o": PASS.replace("{section}", "xdp/pass")
    + """
SEC("xdp/drop") int xdp(struct xdp_md *ctx)
{
    if (!chain_matches((void *)(long)ctx->data, (void *)(long)ctx->data_end))
        return XDP_PASS;
    counter_add(&counts, 1, 1);
    return XDP_DROP;
}
""",
    # accept-all.o: counts, and records its two globals in seen[]
    "accept-all.o": """
volatile const __u32 GLOBAL_1 = 0;
volatile const __u32 GLOBAL_2 = 0;
COUNTER_ARRAY(seen, 2);
SEC("classifier/accept") int accept(struct __sk_buff *skb)
{
    if (chain_matches((void *)(long)skb->data, (void *)(long)skb->data_end)) {
        counter_add(&counts, 0, 1);
        counter_set(&seen, 0, GLOBAL_1);
        counter_set(&seen, 1, GLOBAL_2);
    }
    return TC_ACT_OK;
}
""",
    # net-ebpf-playground's filter: drops ours (in SEC("tc"), as function "classifier"
    # cannot sit in a section of that name)
    "filter.bpf.o": """
SEC("tc") int classifier(struct __sk_buff *skb)
{
    if (!chain_matches((void *)(long)skb->data, (void *)(long)skb->data_end))
        return TC_ACT_OK;
    counter_add(&counts, 0, 1);
    return TC_ACT_SHOT;
}
""",
    # go-xdp-counter: its map pinned by name, as the guide's warning asks
    "go-xdp-counter/bpf_bpfel.o": """
COUNTER_ARRAY(xdp_stats_map, 1, __uint(pinning, LIBBPF_PIN_BY_NAME));
SEC("xdp") int xdp_stats(struct xdp_md *ctx)
{
    if (chain_matches((void *)(long)ctx->data, (void *)(long)ctx->data_end))
        counter_add(&xdp_stats_map, 0, 1);
    return XDP_PASS;
}
""",
    # the images' bytecode
    "xdp_pass.o": PASS.replace("{section}", "xdp"),
    "go-tc-counter.o": """
SEC("classifier") int stats(struct __sk_buff *skb)
{
    if (chain_matches((void *)(long)skb->data, (void *)(long)skb->data_end))
        counter_add(&counts, 0, 1);
    return TC_ACT_OK;
}
""",
    "uprobe.o": 'SEC("uprobe") int my_uprobe(void *ctx) { counter_add(&counts, 0, 1); return 0; }',
    "uretprobe.o": 'SEC("uretprobe") int my_uretprobe(void *ctx) { counter_add(&counts, 0, 1); return 0; }',
    # for the VM lane, which has kprobes
    "kprobe.o": 'SEC("kprobe") int my_kprobe(void *ctx) { counter_add(&counts, 0, 1); return 0; }',
    "kretprobe.o": 'SEC("kretprobe") int my_kretprobe(void *ctx) { counter_add(&counts, 0, 1); return 0; }',
    # not the guide's: programs nobody else on this machine loads, for leak checks
    "orphan.o": """
SEC("xdp") int bpfctl_orphan(struct xdp_md *ctx) { return XDP_PASS; }
SEC("tracepoint/syscalls/sys_enter_getppid") int bpfctl_orphan_tp(void *ctx) { return 0; }
""",
}
SETTER = """
static __always_inline void counter_set(void *map, __u32 index, __u64 to)
{
    __u64 *value = bpf_map_lookup_elem(map, &index);
    if (value)
        *value = to;
}
"""
IMAGES = ("xdp_pass", "go-tc-counter", "uprobe", "uretprobe")
KPROBES = ("kprobe.o", "kretprobe.o")  # the host has no kprobes: tests/test_bpfctl_vm.py


def compile_guide_objects(where: Path, names: Sequence[str]) -> Path:
    """The guide's objects under ``where`` (its /run/bpfd/examples), readable by all."""
    where.chmod(0o755)
    for name in names:
        out = where / name
        out.parent.mkdir(exist_ok=True, mode=0o755)
        compile_bpf(PRELUDE + SETTER + SOURCES[name], out)
        out.chmod(0o644)
        out.with_suffix(".c").unlink()
    return where


def push_images(registry: Registry, objects: Path, names: Sequence[str] = IMAGES) -> dict[str, str]:
    """The guide's quay.io/bpfd-bytecode images, on the loopback registry."""
    urls = {}
    for name in names:
        url = f"{registry.host}/bpfd-bytecode/{name}:latest"
        build_native(
            BytecodeSources(bytecode=str(objects / f"{name}.o")),
            url,
            ImageSettings(insecure_registries=(registry.host,)),
            infer_type,
            auth=registry.auth,
        )
        urls[name] = url
    return urls


@pytest.fixture(scope="module")
def examples() -> Iterator[Path]:
    where = Path(tempfile.mkdtemp(prefix="bpfctl-examples-"))
    try:
        yield compile_guide_objects(where, [n for n in SOURCES if n not in KPROBES])
    finally:
        shutil.rmtree(where, ignore_errors=True)


@pytest.fixture(scope="module")
def images(registry: Registry, examples: Path) -> dict[str, str]:
    return push_images(registry, examples)


# -- running bpfctl --------------------------------------------------------------
_libc = ctypes.CDLL(None, use_errno=True)


@contextlib.contextmanager
def entered(netns: str | None) -> Iterator[None]:
    """This thread in ``netns`` for the body (bpfctl in-process inherits it)."""
    if netns is None:
        yield
        return
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    target = os.open(netns, os.O_RDONLY)
    try:
        assert _libc.setns(target, CLONE_NEWNET) == 0, os.strerror(ctypes.get_errno())
        try:
            yield
        finally:
            assert _libc.setns(own, CLONE_NEWNET) == 0, os.strerror(ctypes.get_errno())
    finally:
        os.close(own)
        os.close(target)


@dataclass
class Bpfctl:
    """bpfctl as its users run it: root with no service (``socket`` None), or
    ``nobody`` whose only group is the socket's (``gid``) with the service up."""

    root: Root
    socket: Path | None = None
    gid: int | None = None

    @property
    def over_socket(self) -> bool:
        return self.socket is not None

    def env(self) -> dict[str, str]:
        socket = self.socket or self.root.path / NO_SERVICE
        env = {**os.environ, "BPFMAN_ROOT": str(self.root.path), "BPFMAN_SOCKET_PATH": str(socket)}
        if self.over_socket:  # the venv's interpreter may sit under a private home
            env["PYTHONPATH"] = os.pathsep.join([SITE_PACKAGES, str(REPO)])
        return env

    def argv(self, args: Sequence[object], netns: str | None = None) -> list[str]:
        inside = ["nsenter", f"--net={netns}"] if netns else []
        if not self.over_socket:
            return [*inside, sys.executable, "-m", "bpfman.bpfctl", *map(str, args)]
        user = ["setpriv", "--reuid=65534", f"--regid={self.gid}", "--clear-groups", "--"]
        return [*inside, *user, "/usr/bin/python3", "-m", "bpfman.bpfctl", *map(str, args)]

    def run(
        self, *args: object, netns: str | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        if IN_PROCESS:  # the VM lane: an interpreter start costs seconds there
            proc = self._in_process([str(a) for a in args], netns)
        else:
            proc = subprocess.run(
                self.argv(args, netns), env=self.env(), capture_output=True, text=True, cwd=REPO
            )
        if check and proc.returncode != 0:
            raise AssertionError(f"bpfctl {args} failed ({proc.returncode}):\n{proc.stderr}")
        return proc

    def _in_process(self, argv: list[str], netns: str | None) -> subprocess.CompletedProcess[str]:
        from bpfman.bpfctl.main import main

        out, err = io.StringIO(), io.StringIO()
        saved = dict(os.environ)
        os.environ.update(self.env())
        try:
            with entered(netns), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = main(argv)
        finally:
            os.environ.clear()
            os.environ.update(saved)
        return subprocess.CompletedProcess(argv, code, out.getvalue(), err.getvalue())

    def ok(self, *args: object, netns: str | None = None) -> str:
        return self.run(*args, netns=netns).stdout

    def load(self, *args: object, netns: str | None = None) -> int:
        """A load-from-* command: it prints the new program's id, nothing else."""
        return int(self.ok(*args, netns=netns).strip())

    def fail(self, *args: object, netns: str | None = None) -> str:
        """A command that must fail with one line on stderr; that line."""
        proc = self.run(*args, netns=netns, check=False)
        assert proc.returncode != 0, proc.stdout
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
        return lines[0]

    def get(self, prog: int) -> dict[str, str]:
        return shown_rows(self.ok("get", prog))

    def cache(self, registry: Registry, *urls: str) -> None:
        for url in urls:
            self.ok("pull-bytecode", "--image-url", url, "-r", registry.auth)


def unused_gid() -> int:
    while True:
        gid = 42000 + secrets.randbelow(10000)
        try:
            grp.getgrgid(gid)
        except KeyError:
            return gid


@contextlib.contextmanager
def socket_service(root: Root, prefix: Sequence[str] = ()) -> Iterator[Bpfctl]:
    """The service on a socket whose directory is setgid to a fresh group, and a
    bpfctl for ``nobody`` in that group (the group needs no /etc/group entry)."""
    gid = unused_gid()
    where = Path(tempfile.mkdtemp(prefix="bpfctl-sock-"))
    try:
        where.chmod(0o755)
        directory = where / "sock"
        directory.mkdir()
        os.chown(directory, 0, gid)
        directory.chmod(0o2750)  # setgid: the socket takes the group, as SocketGroup= gives it
        socket = directory / "bpfman.sock"
        command = [*prefix, *SERVICE_CAPS]
        with running_service(root.path, "--socket-path", str(socket), prefix=command, ready=False) as svc:  # fmt: skip
            if not eventually(lambda: answers(str(socket)), timeout=READY_TIMEOUT, interval=0.1):
                raise AssertionError(f"the service never answered:\n{svc.logs()}")
            assert os.stat(socket).st_gid == gid
            yield Bpfctl(root, socket, gid)
    finally:
        shutil.rmtree(where, ignore_errors=True)


def use_registry(root: Root, registry: Registry) -> None:
    root.path.mkdir(parents=True, exist_ok=True)
    (root.path / "bpfman.toml").write_text(f'[images]\ninsecure_registries = ["{registry.host}"]\n')


def client(mode: str, root: Root, registry: Registry) -> Iterator[Bpfctl]:
    """The ``bpfctl`` fixture's body: root in-process, or nobody over the socket."""
    use_registry(root, registry)
    if mode == "in-process":
        yield Bpfctl(root)
    else:
        with socket_service(root) as member:
            yield member


@pytest.fixture(params=["in-process", "socket"])
def bpfctl(request: pytest.FixtureRequest, root: Root, registry: Registry) -> Iterator[Bpfctl]:
    yield from client(request.param, root, registry)


@pytest.fixture
def pair2() -> Iterator[VethPair]:
    with VethPair() as veth:
        yield veth


# -- what to look at from outside ------------------------------------------------
def counts(root: Root, prog: int, name: str = "counts") -> dict[int, int]:
    return map_values(str(root.maps(prog) / name))


def xdp_ids(pair: VethPair) -> list[int]:
    return [int(e["id"]) for e in net_show(pair.if_b, pair.netns_path_b)["xdp"]]


def tc_ids(pair: VethPair, at_b: bool = True) -> list[int]:
    iface, netns = (pair.if_b, pair.netns_path_b) if at_b else (pair.if_a, pair.netns_path_a)
    return [int(e["id"]) for e in net_show(iface, netns)["tc"]]


def delivered(pair: VethPair) -> int:
    """Send a burst from a to b; how many datagrams b's socket got."""
    pair.send_udp(PACKETS)
    return pair.udp_received(PORT, PACKETS, timeout=5.0 if IN_PROCESS else 1.0)


def fired(root: Root, prog: int) -> bool:
    return counts(root, prog).get(0, 0) > 0


def check_attachment(bpfctl: Bpfctl, prog: int, expected: dict[str, str]) -> dict[str, str]:
    """get's Bpfd State: the attachment's rows merged in (over the socket from bpfman.v1's
    link_details extension)."""
    rows = bpfctl.get(prog)
    assert {k: rows.get(k) for k in expected} == expected, rows
    return rows


def unload(bpfctl: Bpfctl, prog: int) -> None:
    assert bpfctl.ok("unload", prog) == ""
    assert str(prog) not in bpfctl.ok("list").split()


# -- help ----------------------------------------------------------------------------
# The guide's help, word for word (its "bpfd" and "a OCI" too), but for one fix: its
# example `--registry_auth` names no flag (clap spells it --registry-auth).
GUIDE_HELP = {
    ("--help",): """
A client for working with bpfd

Usage: bpfctl <COMMAND>
------

Commands:
---------
  load-from-file   Load an eBPF program from a local .o file
  load-from-image  Load an eBPF program packaged in a OCI container image from a given registry
  unload           Unload an eBPF program using the program id
  list             List all eBPF programs loaded via bpfd
  get              Get a program's metadata by program id
  pull-bytecode    Pull a bytecode image for future use by a load command
  help             Print this message or the help of the given subcommand(s)

Options:
--------
  -h, --help     Print help
  -V, --version  Print version
""",
    ("load-from-file", "--help"): """
Load an eBPF program from a local .o file

Usage: bpfctl load-from-file [OPTIONS] --path <PATH> --name <NAME> <COMMAND>
------

Commands:
---------
  xdp         Install an eBPF program on the XDP hook point for a given interface
  tc          Install an eBPF program on the TC hook point for a given interface
  tracepoint  Install an eBPF program on a Tracepoint
  kprobe      Install an eBPF kprobe or kretprobe
  uprobe      Install an eBPF uprobe or uretprobe
  help        Print this message or the help of the given subcommand(s)

Options:
--------
  -p, --path <PATH>
          Required: Location of local bytecode file
          Example: --path /run/bpfd/examples/go-xdp-counter/bpf_bpfel.o

  -n, --name <NAME>
          Required: The name of the function that is the entry point for the BPF program

  -g, --global <GLOBAL>...
          Optional: Global variables to be set when program is loaded.
          Format: <NAME>=<Hex Value>

          This is a very low level primitive. The caller is responsible for formatting
          the byte string appropriately considering such things as size, endianness,
          alignment and packing of data structures.

  -m, --metadata <METADATA>
          Optional: Specify Key/Value metadata to be attached to a program when it
          is loaded by bpfd.
          Format: <KEY>=<VALUE>

          This can later be used to list a certain subset of programs which contain
          the specified metadata.

      --map-owner-id <MAP_OWNER_ID>
          Optional: Program id of loaded eBPF program this eBPF program will share a map with.
          Only used when multiple eBPF programs need to share a map.
          Example: --map-owner-id 63178

  -h, --help
          Print help (see a summary with '-h')
""",
    ("load-from-image", "--help"): """
Load an eBPF program packaged in a OCI container image from a given registry

Usage: bpfctl load-from-image [OPTIONS] --image-url <IMAGE_URL> <COMMAND>

Commands:
  xdp         Install an eBPF program on the XDP hook point for a given interface
  tc          Install an eBPF program on the TC hook point for a given interface
  tracepoint  Install an eBPF program on a Tracepoint
  kprobe      Install an eBPF kprobe or kretprobe
  uprobe      Install an eBPF uprobe or uretprobe
  help        Print this message or the help of the given subcommand(s)

Options:
  -i, --image-url <IMAGE_URL>
          Required: Container Image URL.
          Example: --image-url quay.io/bpfd-bytecode/xdp_pass:latest

  -r, --registry-auth <REGISTRY_AUTH>
          Optional: Registry auth for authenticating with the specified image registry.
          This should be base64 encoded from the '<username>:<password>' string just like
          it's stored in the docker/podman host config.
          Example: --registry-auth "YnjrcKw63PhDcQodiU9hYxQ2"

  -p, --pull-policy <PULL_POLICY>
          Optional: Pull policy for remote images.

          [possible values: Always, IfNotPresent, Never]

          [default: IfNotPresent]

  -n, --name <NAME>
          Optional: The name of the function that is the entry point for the BPF program.
          If not provided, the program name defined as part of the bytecode image will be used.

          [default: ]

  -g, --global <GLOBAL>...
          Optional: Global variables to be set when program is loaded.
          Format: <NAME>=<Hex Value>

          This is a very low level primitive. The caller is responsible for formatting
          the byte string appropriately considering such things as size, endianness,
          alignment and packing of data structures.

  -m, --metadata <METADATA>
          Optional: Specify Key/Value metadata to be attached to a program when it
          is loaded by bpfd.
          Format: <KEY>=<VALUE>

          This can later be used to list a certain subset of programs which contain
          the specified metadata.
          Example: --metadata owner=acme

      --map-owner-id <MAP_OWNER_ID>
          Optional: Program id of loaded eBPF program this eBPF program will share a map with.
          Only used when multiple eBPF programs need to share a map.
          Example: --map-owner-id 63178

  -h, --help
          Print help (see a summary with '-h')
""",
    ("load-from-file", "xdp", "--help"): """
Install an eBPF program on the XDP hook point for a given interface

Usage: bpfctl load-from-file --path <PATH> --name <NAME> xdp [OPTIONS] --iface <IFACE> --priority <PRIORITY>
------

Options:
--------
  -i, --iface <IFACE>
          Required: Interface to load program on

  -p, --priority <PRIORITY>
          Required: Priority to run program in chain. Lower value runs first

      --proceed-on <PROCEED_ON>...
          Optional: Proceed to call other programs in chain on this exit code.
          Multiple values supported by repeating the parameter.
          Example: --proceed-on "pass" --proceed-on "drop"

          [possible values: aborted, drop, pass, tx, redirect, dispatcher_return]

          [default: pass, dispatcher_return]

  -h, --help
          Print help (see a summary with '-h')
""",
    ("load-from-file", "tc", "-h"): """
Install an eBPF program on the TC hook point for a given interface

Usage: bpfctl load-from-file --path <PATH> --name <NAME> tc [OPTIONS] --direction <DIRECTION> --iface <IFACE> --priority <PRIORITY>
------

Options:
--------
  -d, --direction <DIRECTION>
          Required: Direction to apply program.

          [possible values: ingress, egress]

  -i, --iface <IFACE>
          Required: Interface to load program on

  -p, --priority <PRIORITY>
          Required: Priority to run program in chain. Lower value runs first

      --proceed-on <PROCEED_ON>...
          Optional: Proceed to call other programs in chain on this exit code.
          Multiple values supported by repeating the parameter.
          Example: --proceed-on "ok" --proceed-on "pipe"

          [possible values: unspec, ok, reclassify, shot, pipe, stolen, queued,
                            repeat, redirect, trap, dispatcher_return]

          [default: ok, pipe, dispatcher_return]

  -h, --help
          Print help (see a summary with '-h')
""",
    ("pull-bytecode", "--help"): """
Pull a bytecode image for future use by a load command

Usage: bpfctl pull-bytecode [OPTIONS] --image-url <IMAGE_URL>

Options:
  -i, --image-url <IMAGE_URL>
          Required: Container Image URL.
          Example: --image-url quay.io/bpfd-bytecode/xdp_pass:latest

  -r, --registry-auth <REGISTRY_AUTH>
          Optional: Registry auth for authenticating with the specified image registry.
          This should be base64 encoded from the '<username>:<password>' string just like
          it's stored in the docker/podman host config.
          Example: --registry-auth "YnjrcKw63PhDcQodiU9hYxQ2"

  -p, --pull-policy <PULL_POLICY>
          Optional: Pull policy for remote images.

          [possible values: Always, IfNotPresent, Never]

          [default: IfNotPresent]

  -h, --help
          Print help (see a summary with '-h')
""",
}


def help_parts(text: str) -> tuple[str, str, str]:
    """(about, usage, the rest) with whitespace collapsed: the guide underlines headings
    with dashes and prints the about line first, bpfman's clap-style help the usage."""
    lines = [ln for ln in text.splitlines() if not (ln.strip() and set(ln.strip()) == {"-"})]
    usage = next(ln for ln in lines if ln.startswith("Usage:"))
    start = next(i for i, ln in enumerate(lines) if ln in ("Commands:", "Options:"))
    about = [ln for ln in lines[:start] if ln.strip() and ln != usage]
    return (" ".join(about), " ".join(usage.split()), " ".join(" ".join(lines[start:]).split()))


def test_help_is_the_guides(root: Root) -> None:
    bpfctl = Bpfctl(root)
    for args, guide in GUIDE_HELP.items():
        assert help_parts(bpfctl.ok(*args)) == help_parts(guide), args
    assert bpfctl.ok("help", "load-from-file", "xdp") == bpfctl.ok("load-from-file", "xdp", "-h")
    assert bpfctl.ok("-V").startswith("bpfctl ")
    assert "Usage: bpfctl get <ID>" in bpfctl.ok("help", "get")


# -- the load examples ----------------------------------------------------------------
def test_xdp_examples(bpfctl: Bpfctl, examples: Path, pair: VethPair) -> None:
    """Loading from a local file, the additional XDP example, and proceed-on."""
    where = pair.netns_path_b
    obj = examples / "xdp_pass_kern.o"
    for priority in (100, 35):
        prog = bpfctl.load(
            "load-from-file", "--path", obj, "--name", "pass",
            "xdp", "--iface", pair.if_b, "--priority", priority, netns=where,
        )  # fmt: skip
        assert xdp_ids(pair) == [prog]
        assert delivered(pair) == PACKETS
        assert counts(bpfctl.root, prog)[0] == PACKETS
        rows = check_attachment(
            bpfctl,
            prog,
            {"Priority": str(priority), "Iface": pair.if_b, "Position": "0",
             "Proceed On": "pass, dispatcher_return"},
        )  # fmt: skip
        assert (rows["Name"], rows["Path"]) == ("pass", str(obj))
        unload(bpfctl, prog)
        assert xdp_ids(pair) == []

    prog = bpfctl.load(
        "load-from-file", "-p", obj, "-n", "xdp",
        "xdp", "-i", pair.if_b, "-p", 30, "--proceed-on", "drop", "pass", "dispatcher_return",
        netns=where,
    )  # fmt: skip
    assert delivered(pair) == 0  # alone on its hook, the program's drop is the verdict
    assert counts(bpfctl.root, prog)[1] == PACKETS
    check_attachment(bpfctl, prog, {"Proceed On": "drop, pass, dispatcher_return"})
    unload(bpfctl, prog)
    assert xdp_ids(pair) == [] and delivered(pair) == PACKETS


def test_tc_examples(bpfctl: Bpfctl, examples: Path, pair: VethPair) -> None:
    """The short-option tc example, the additional TC example, and globals."""
    where = pair.netns_path_b
    prog = bpfctl.load(
        "load-from-file", "-p", examples / "accept-all.o", "-n", "accept",
        "tc", "-d", "ingress", "-i", pair.if_b, "-p", 40, netns=where,
    )  # fmt: skip
    assert tc_ids(pair) == [prog]
    assert delivered(pair) == PACKETS and counts(bpfctl.root, prog)[0] == PACKETS
    rows = check_attachment(
        bpfctl,
        prog,
        {"Priority": "40", "Iface": pair.if_b, "Position": "0",
         "Direction": "in", "Proceed On": "ok, pipe, dispatcher_return"},
    )  # fmt: skip
    assert rows["Name"] == "accept"
    unload(bpfctl, prog)

    prog = bpfctl.load(
        "load-from-file", "--path", examples / "filter.bpf.o", "--name", "classifier",
        "tc", "--direction", "ingress", "--iface", pair.if_b, "--priority", 110, netns=where,
    )  # fmt: skip
    assert tc_ids(pair) == [prog]
    assert delivered(pair) == 0 and counts(bpfctl.root, prog)[0] == PACKETS
    unload(bpfctl, prog)
    assert tc_ids(pair) == [] and delivered(pair) == PACKETS

    prog = bpfctl.load(
        "load-from-file", "-p", examples / "accept-all.o",
        "-g", "GLOBAL_1=01020304", "GLOBAL_2=0A0B0C0D",
        "-n", "accept", "tc", "-d", "ingress", "-i", pair.if_b, "-p", 40, netns=where,
    )  # fmt: skip
    assert delivered(pair) == PACKETS
    assert counts(bpfctl.root, prog, "seen") == {0: 0x04030201, 1: 0x0D0C0B0A}
    shown = bpfctl.ok("get", prog).split("Global:")[1].split()[:2]
    assert [g.lower() for g in shown] == ["global_1=01020304", "global_2=0a0b0c0d"], shown
    unload(bpfctl, prog)


def test_image_examples(
    bpfctl: Bpfctl, registry: Registry, images: dict[str, str], pair: VethPair
) -> None:
    """From an image (the function's name is the image's), uprobe and uretprobe on
    libc's malloc, pull-bytecode and a load that uses the pulled image."""
    bpfctl.cache(registry, images["xdp_pass"], images["uprobe"], images["uretprobe"])
    where = pair.netns_path_b
    xdp = ("xdp", "--iface", pair.if_b, "--priority", 100)
    probes: dict[str, tuple[str, ...]] = {"uprobe": ("uprobe", "-f", "malloc", "-t", "libc")}
    probes["uretprobe"] = (*probes["uprobe"], "-r")

    prog = bpfctl.load("load-from-image", "--image-url", images["xdp_pass"], *xdp, netns=where)
    assert xdp_ids(pair) == [prog] and delivered(pair) == PACKETS
    rows = check_attachment(bpfctl, prog, {"Priority": "100", "Position": "0"})
    assert (rows["Name"], rows["Image URL"], rows["Pull Policy"]) == (
        "pass",
        images["xdp_pass"],
        "IfNotPresent",
    )
    unload(bpfctl, prog)

    for kind, attach in probes.items():
        prog = bpfctl.load("load-from-image", "--image-url", images[kind], *attach)
        subprocess.run(["true"], check=True)  # a process start calls malloc
        assert eventually(partial(fired, bpfctl.root, prog))
        check_attachment(
            bpfctl,
            prog,
            {"Probe Type": kind, "Function Name": "malloc", "Offset": "0", "Target": "libc"},
        )
        unload(bpfctl, prog)

    # -r must agree with the program's ELF section, from an image as from a file
    line = bpfctl.fail("load-from-image", "--image-url", images["uprobe"], *probes["uretprobe"])
    assert line.endswith("uprobe -r: my_uprobe is a uprobe, not a uretprobe: its ELF section"
                         " decides (a uretprobe/... section makes a uretprobe)"), line  # fmt: skip
    assert bpfctl.ok("list") == " Program ID  Name  Type  Load Time\n"

    assert bpfctl.ok("pull-bytecode", "--image-url", images["xdp_pass"]) == (
        "Successfully downloaded bytecode\n"
    )
    prog = bpfctl.load(
        "load-from-image", "--image-url", images["xdp_pass"], "--pull-policy", "IfNotPresent",
        *xdp, netns=where,
    )  # fmt: skip
    assert xdp_ids(pair) == [prog] and delivered(pair) == PACKETS
    unload(bpfctl, prog)


def test_map_sharing_example(
    bpfctl: Bpfctl, examples: Path, pair: VethPair, pair2: VethPair
) -> None:
    obj = examples / "go-xdp-counter" / "bpf_bpfel.o"
    owner = bpfctl.load(
        "load-from-file", "--path", obj, "-n", "xdp_stats",
        "xdp", "--iface", pair.if_b, "--priority", 100, netns=pair.netns_path_b,
    )  # fmt: skip
    user = bpfctl.load(
        "load-from-file", "--path", obj, "-n", "xdp_stats", "--map-owner-id", owner,
        "xdp", "--iface", pair2.if_b, "--priority", 100, netns=pair2.netns_path_b,
    )  # fmt: skip
    listed = bpfctl.ok("list").splitlines()
    assert listed[0].split() == ["Program", "ID", "Name", "Type", "Load", "Time"]
    assert [row.split()[:3] for row in listed[1:]] == [
        [str(owner), "xdp_stats", "xdp"],
        [str(user), "xdp_stats", "xdp"],
    ]
    maps = str(bpfctl.root.maps(owner))
    for prog, owner_id in ((owner, "None"), (user, str(owner))):
        text = bpfctl.ok("get", prog)
        rows = shown_rows(text)
        assert (rows["Map Pin Path"], rows["Map Owner ID"]) == (maps, owner_id)
        used_by = text.split("Map Used By:")[1].split()[:2]
        assert used_by == [str(owner), str(user)], text
    assert find_map_id(owner, "xdp_stats_map") == find_map_id(user, "xdp_stats_map")

    assert delivered(pair) == PACKETS
    pair2.send_udp(PACKETS)
    assert pair2.udp_received(PORT, PACKETS) == PACKETS
    assert map_values(f"{maps}/xdp_stats_map") == {0: 2 * PACKETS}

    unload(bpfctl, owner)
    assert Path(maps, "xdp_stats_map").exists()  # its last user still holds it
    unload(bpfctl, user)
    assert not Path(maps).exists()


def test_list_get_and_unload_examples(
    bpfctl: Bpfctl,
    registry: Registry,
    images: dict[str, str],
    examples: Path,
    objects: Path,
    pair: VethPair,
    foreign: int,
) -> None:
    bpfctl.cache(registry, images["go-tc-counter"])
    tracepoint = bpfctl.load(
        "load-from-file", "-p", objects / "tracepoint_counter.bpf.o", "-n", "tracepoint_counter",
        "tracepoint", "-t", TRACEPOINT,
    )  # fmt: skip
    stats = bpfctl.load(
        "load-from-image", "--image-url", images["go-tc-counter"],
        "tc", "-d", "egress", "-i", pair.if_a, "-p", 100, netns=pair.netns_path_a,
    )  # fmt: skip

    listed = bpfctl.ok("list").splitlines()
    assert [row.split()[:3] for row in listed[1:]] == [
        [str(tracepoint), "tracepoint_counter", "tracepoint"],
        [str(stats), "stats", "tc"],
    ]
    everything = {int(row.split()[0]): row.split() for row in bpfctl.ok("list", "--all").splitlines()[1:]}  # fmt: skip
    assert {tracepoint, stats, foreign} <= set(everything)
    assert everything[foreign][1:3] == ["tracepoint_counter", "tracepoint"]
    tc_only = [row.split() for row in bpfctl.ok("list", "--all", "--program-type", "tc").splitlines()[1:]]  # fmt: skip
    assert stats in {int(row[0]) for row in tc_only} and {row[2] for row in tc_only} == {"tc"}

    text = bpfctl.ok("get", stats)
    bpfd, kernel = text.split("\n\n")
    assert bpfd.startswith(" Bpfd State\n---------------\n")
    rows = shown_rows(bpfd)
    assert (rows["Name"], rows["Image URL"], rows["Pull Policy"]) == (
        "stats",
        images["go-tc-counter"],
        "IfNotPresent",
    )
    assert (rows["Global"], rows["Metadata"], rows["Map Owner ID"]) == ("None", "None", "None")
    check_attachment(
        bpfctl,
        stats,
        {"Priority": "100", "Iface": pair.if_a, "Position": "0", "Direction": "eg",
         "Proceed On": "ok, pipe, dispatcher_return"},
    )  # fmt: skip
    assert kernel.startswith(" Kernel State\n" + "-" * 34 + "\n")
    shown = prog_show(stats)
    krows = shown_rows(kernel)
    assert (krows["ID"], krows["Name"], krows["Type"]) == (str(stats), "stats", "tc")
    assert krows["Tag"] == shown["tag"] and krows["Map IDs"] == str(shown["map_ids"])

    assert tc_ids(pair, at_b=False) == [stats]
    pair.send_udp(PACKETS)
    assert pair.udp_received(PORT, PACKETS) == PACKETS
    assert counts(bpfctl.root, stats)[0] == PACKETS

    outsider = bpfctl.ok("get", foreign)
    assert outsider.startswith(" Bpfd State\n---------------\nNONE\n\n Kernel State\n")
    assert shown_rows(outsider)["Type"] == "tracepoint"

    unload(bpfctl, stats)
    assert [row.split()[0] for row in bpfctl.ok("list").splitlines()[1:]] == [str(tracepoint)]
    assert tc_ids(pair, at_b=False) == []
    unload(bpfctl, tracepoint)


def test_get_over_the_socket_prints_what_it_prints_in_process(
    root: Root, registry: Registry, images: dict[str, str], examples: Path, objects: Path,
    pair: VethPair,
) -> None:  # fmt: skip
    """The same programs (xdp, tc with globals, tracepoint, uprobe and uretprobe, loaded
    by either side), shown by root in-process and by nobody over the socket."""
    use_registry(root, registry)
    local = Bpfctl(root)
    local.cache(registry, images["uprobe"], images["uretprobe"])
    where = pair.netns_path_b
    with socket_service(root) as remote:
        progs = [
            local.load(
                "load-from-file", "-p", examples / "xdp_pass_kern.o", "-n", "pass",
                "xdp", "-i", pair.if_b, "-p", 50, "--proceed-on", "pass", "drop", netns=where,
            ),
            remote.load(
                "load-from-file", "-p", examples / "accept-all.o", "-g", "GLOBAL_2=0A0B0C0D",
                "-g", "GLOBAL_1=01020304", "-m", "owner=acme", "-m", "app=guide",
                "-n", "accept", "tc", "-d", "egress", "-i", pair.if_b, "-p", 40, netns=where,
            ),
            remote.load(
                "load-from-file", "-p", objects / "tracepoint_counter.bpf.o",
                "-n", "tracepoint_counter", "tracepoint", "-t", TRACEPOINT,
            ),
            local.load("load-from-image", "--image-url", images["uprobe"], "uprobe", "-f", "malloc", "-t", "libc"),
            remote.load(
                "load-from-image", "--image-url", images["uretprobe"],
                "uprobe", "-f", "malloc", "-t", "libc", "-r",
            ),
        ]  # fmt: skip
        try:
            for prog in progs:
                shown = local.ok("get", prog)
                assert remote.ok("get", prog) == shown
                assert "Links:" not in shown
            rows = [shown_rows(local.ok("get", prog)) for prog in progs]
            assert (rows[0]["Iface"], rows[0]["Position"], rows[0]["Proceed On"]) == (
                pair.if_b, "0", "pass, drop",
            )  # fmt: skip
            assert (rows[1]["Direction"], rows[1]["Priority"]) == ("eg", "40")
            assert rows[2]["Tracepoint"] == TRACEPOINT
            assert [r["Probe Type"] for r in rows[3:]] == ["uprobe", "uretprobe"]
            assert remote.ok("list") == local.ok("list")
        finally:
            for prog in progs:
                local.run("unload", prog, check=False)


# -- all or nothing ---------------------------------------------------------------------
def test_a_failed_attach_leaves_nothing_loaded(
    bpfctl: Bpfctl, examples: Path, objects: Path, pair: VethPair
) -> None:
    names = {"bpfctl_orphan", "bpfctl_orphan_tp", "uretprobe_counter"}
    before = set(kernel_programs(names))
    orphan = ("load-from-file", "-p", examples / "orphan.o", "-n")
    line = bpfctl.fail(*orphan, "bpfctl_orphan", "xdp", "-i", "nope0", "-p", 5, netns=pair.netns_path_b)  # fmt: skip
    assert "nope0" in line, line
    line = bpfctl.fail(*orphan, "bpfctl_orphan_tp", "tracepoint", "-t", "nosuch/tp")
    assert "nosuch" in line, line
    # -r must agree with the ELF section: uretprobe_counter is a uretprobe
    uretprobe = ("-p", objects / "uprobe_counter.bpf.o", "-n", "uretprobe_counter")
    line = bpfctl.fail("load-from-file", *uretprobe, "uprobe", "-f", "malloc", "-t", "libc")
    assert line.endswith("is a uretprobe (its ELF section says so): add -r to attach it"), line
    assert bpfctl.ok("list") == " Program ID  Name  Type  Load Time\n"
    assert problems(bpfctl.root.path, [Hook(pair.if_b, pair.netns_path_b)], names, before) == []
    assert not list((bpfctl.root.path / "fs").glob("prog_*"))


def _delayed_attach(bpfctl: Bpfctl, objects: Path) -> tuple[subprocess.Popen[str], int, list[str]]:
    """A tracepoint load whose attach strace holds up, in bpfctl or in the service:
    the process, bpfctl's pid, and the program pins once the load is done."""
    argv = bpfctl.argv(
        ("load-from-file", "-p", objects / "tracepoint_counter.bpf.o", "-n",
         "tracepoint_counter", "tracepoint", "-t", TRACEPOINT)
    )  # fmt: skip
    if not bpfctl.over_socket:
        argv = [*STRACE_DELAY, *argv]
    proc = subprocess.Popen(
        argv, env=bpfctl.env(), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    pins = bpfctl.root.path / "fs"
    assert eventually(lambda: list(pins.glob("prog_*")), timeout=60), proc.stderr
    pid = proc.pid
    if not bpfctl.over_socket:  # the process strace started
        pid = int(Path(f"/proc/{pid}/task/{pid}/children").read_text().split()[0])
    return proc, pid, [p.name for p in pins.glob("prog_*")]


# Every perf_event_open (only the tracepoint's attach makes one) waits 3 s first.
STRACE_DELAY = ["strace", "-f", "-o", "/dev/null", "-e", "inject=perf_event_open:delay_enter=3000000"]  # fmt: skip


@pytest.mark.parametrize("mode", ["in-process", "socket"])
def test_a_signal_between_load_and_attach_waits_for_the_step(
    mode: str, root: Root, objects: Path
) -> None:
    """SIGTERM while the attach is under way (held up by strace, in bpfctl or in the
    service): bpfctl finishes the step, prints the id, then dies of the signal."""
    with contextlib.ExitStack() as stack:
        if mode == "in-process":
            bpfctl = Bpfctl(root)
        else:
            bpfctl = stack.enter_context(socket_service(root, prefix=STRACE_DELAY))
        proc, pid, loaded = _delayed_attach(bpfctl, objects)
        os.kill(pid, signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == -signal.SIGTERM, err
        prog = int(out)
        assert loaded == [f"prog_{prog}"]
        links = root.run("list", "links").stdout
        assert f" {prog} " in links and TRACEPOINT in links, links
        unload(bpfctl, prog)


def test_sigkill_between_load_and_attach_leaves_an_ordinary_program(
    root: Root, objects: Path
) -> None:
    """What docs/service.md says SIGKILL leaves: the program loaded, not attached, listed by
    bpfctl and bpfman alike, and removed by ``bpfctl unload``."""
    bpfctl = Bpfctl(root)
    proc, pid, loaded = _delayed_attach(bpfctl, objects)
    os.kill(pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    prog = int(loaded[0].removeprefix("prog_"))
    assert [row.split()[0] for row in bpfctl.ok("list").splitlines()[1:]] == [str(prog)]
    assert root.run("list", "links").stdout.splitlines()[1:] == []
    unload(bpfctl, prog)
    assert not list((root.path / "fs").glob("prog_*"))


# -- bpfctl and bpfman --------------------------------------------------------------
def test_bpfctl_and_bpfman_see_each_others_programs(bpfctl: Bpfctl, objects: Path) -> None:
    obj = objects / "tracepoint_counter.bpf.o"
    ours = bpfctl.load(
        "load-from-file", "-p", obj, "-n", "tracepoint_counter", "-m", "owner=bpfctl",
        "tracepoint", "-t", TRACEPOINT,
    )  # fmt: skip
    root = bpfctl.root
    [link] = root.json("list", "links")
    assert (link["program_id"], link["attachment"]) == (ours, TRACEPOINT)
    assert root.json("get", "program", ours)["bpfman"]["metadata"] == {"owner": "bpfctl"}
    theirs = root.load_id(obj, "--programs", "tracepoint:tracepoint_counter", "-a", "bpfman")
    root.attach(theirs, "tracepoint", "-t", TRACEPOINT)

    listed = [row.split()[:2] for row in bpfctl.ok("list").splitlines()[1:]]
    assert listed == [[str(ours), "tracepoint_counter"], [str(theirs), "tracepoint_counter"]]
    rows = check_attachment(bpfctl, theirs, {"Tracepoint": TRACEPOINT})
    assert rows["Metadata"] == "bpfman.io/application=bpfman"
    root.run("unload", ours)
    unload(bpfctl, theirs)
    assert root.json("list", "programs") == []


# -- the socket and its group ----------------------------------------------------------
def test_who_may_use_bpfctl(root: Root, examples: Path) -> None:
    """Not in the socket's group: refused, naming it; no service: root only. Over the
    socket the service reads bytecode files with its own rights and says so."""
    with socket_service(root) as member:
        outsider = Bpfctl(root, member.socket, 65534)
        line = outsider.fail("list")
        assert f"permission denied; members of group {member.gid} may" in line, line

        private = examples / f"private-{secrets.token_hex(4)}.o"
        shutil.copy(examples / "orphan.o", private)
        try:
            os.chown(private, 65534, 65534)
            private.chmod(0o600)  # nobody's own file: the service may not read it
            line = member.fail(
                "load-from-file", "-p", private, "-n", "bpfctl_orphan", "tracepoint", "-t", TRACEPOINT
            )  # fmt: skip
            assert line.endswith(FILE_HINT) and "Permission denied" in line, line
        finally:
            private.unlink()
        assert member.ok("list") == " Program ID  Name  Type  Load Time\n"

    nowhere = Path(tempfile.gettempdir()) / f"bpfctl-{secrets.token_hex(4)}.sock"
    line = Bpfctl(root, nowhere, 65534).fail("list")  # nobody, and nothing listens
    assert line == (
        "Error: must be run as root (or with CAP_SYS_ADMIN and CAP_BPF):"
        f" no bpfman service answers at {nowhere}"
    ), line


def test_the_units_create_the_sockets_group(tmp_path: Path) -> None:
    """systemd-sysusers makes the group that bpfman.socket hands its socket to."""
    units = REPO / "systemd"
    socket_unit = (units / "bpfman.socket").read_text()
    assert "SocketGroup=bpfman\n" in socket_unit and "SocketMode=0660\n" in socket_unit
    (tmp_path / "etc").mkdir()
    subprocess.run(
        ["systemd-sysusers", f"--root={tmp_path}", str(units / "bpfman.sysusers")],
        check=True,
        capture_output=True,
    )
    groups = (tmp_path / "etc" / "group").read_text().splitlines()
    assert [line.split(":")[0] for line in groups] == ["bpfman"]
    assert "root-equivalent for eBPF" in (units / "bpfman.sysusers").read_text()
