"""Shell completion: a real bash in tmux, and the protocol every shell speaks.

The bash tests source the script ``bpfman completions`` writes into an
interactive bash in a private tmux server and read the screen after Tab, as a
user sees it. The protocol tests run ``bpfman`` as the zsh and fish scripts do
(``_BPFMAN_COMPLETE``, ``COMP_WORDS``, ``COMP_CWORD``) and parse their formats,
for every kind of candidate: program and link ids from the state, type names,
files, namespaces, cgroups, interfaces, choices. Completion must print nothing
on stderr, change nothing and stay off libbpf, gRPC and the OCI stack.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

from bpfman.core.bpffs import Layout
from bpfman.core.plugins import get_plugin_manager
from bpfman.core.state import Store, Txn
from bpfman.dispatcher import TC, XDP
from bpfman.kernel.names import PROG_TYPE_FILTERS
from bpfman.plugins.cgroup.cgroupfs import cgroup2_mounts
from bpfman.toolbox.profile import METRICS
from tests.helpers import run
from tests.helpers.net import VethPair
from tests.helpers.root import BPFMAN, REPO, Root, load_counter

SHELLS = ("zsh", "fish")
TRACEPOINT = "syscalls/sys_enter_getppid"
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
# What completion must never import: libbpf's binding, gRPC, the OCI and crypto stacks.
HEAVY = ("_cffi_backend", "bpfman.kernel._ffi", "grpc", "oras", "requests", "cryptography")


class Item(NamedTuple):
    type: str
    value: str
    help: str


def complete(root: Root, shell: str, line: str, **env: str) -> list[Item]:
    """The candidates for the end of ``line``, asked as ``shell``'s script asks."""
    proc = ask(root, shell, line, BPFMAN, **env)
    assert proc.returncode == 0, proc
    assert proc.stderr == "", proc.stderr
    return parse(shell, proc.stdout)


def ask(
    root: Root, shell: str, line: str, command: list[str], **env: str
) -> subprocess.CompletedProcess[str]:
    words = line.split()
    incomplete = "" if line.endswith(" ") else words[-1]
    # bash and zsh give the index of the word under the cursor, fish the word itself
    cword = incomplete if shell == "fish" else str(len(words) - (incomplete != ""))
    request = {"_BPFMAN_COMPLETE": f"{shell}_complete", "COMP_WORDS": line, "COMP_CWORD": cword}
    return subprocess.run(
        command, env={**root.env, **request, **env}, cwd=REPO,
        capture_output=True, text=True,
    )  # fmt: skip


def parse(shell: str, out: str) -> list[Item]:
    lines = out.rstrip("\n").split("\n") if out.strip() else []
    if shell == "zsh":  # type, value, help ("_": none), a line each
        triples = zip(lines[0::3], lines[1::3], lines[2::3], strict=True)
        return [Item(t, v, "" if h == "_" else h) for t, v, h in triples]
    items = []
    for line in filter(None, lines):  # bash: type,value; fish: type,value<TAB>help
        kind, _, rest = line.partition(",")
        value, _, help_ = rest.partition("\t")
        items.append(Item(kind, value, help_))
    return items


def values(items: list[Item]) -> list[str]:
    assert all(i.type == "plain" for i in items), items
    return [i.value for i in items]


def installed_types() -> list[str]:
    return sorted(get_plugin_manager().types)


# -- the protocol, for zsh and fish ------------------------------------------------------
@pytest.mark.parametrize("shell", SHELLS)
def test_program_and_link_ids_come_from_the_state(root: Root, objects: Path, shell: str) -> None:
    prog = load_counter(root, objects)
    link = root.attach(prog, "tracepoint", "-t", TRACEPOINT)["id"]
    other = load_counter(root, objects)
    programs = [Item("plain", str(p), "tracepoint tracepoint_counter") for p in (prog, other)]
    for line in ("bpfman get program ", "bpfman unload ", "bpfman attach ", "bpfman dump xlated ",
                 "bpfman dump jited ", "bpfman run ", "bpfman profile ",
                 "bpfman load file --programs tracepoint:f --map-owner-id "):  # fmt: skip
        assert complete(root, shell, line) == programs, line
    assert values(complete(root, shell, f"bpfman get program {prog}")) == [str(prog)]
    for line in ("bpfman detach ", "bpfman get link "):
        [item] = complete(root, shell, line)
        assert item == Item("plain", str(link), f"tracepoint {TRACEPOINT} (program {prog})")
    # the root given on the line wins over BPFMAN_ROOT
    line = f"bpfman --root {root.path} get program "
    assert complete(root, shell, line, BPFMAN_ROOT=f"{root.path}/elsewhere") == programs
    assert complete(root, shell, "bpfman get program ", BPFMAN_ROOT=f"{root.path}/elsewhere") == []


@pytest.mark.parametrize("shell", SHELLS)
def test_type_names_for_attach_programs_and_program_type(root: Root, shell: str) -> None:
    types = installed_types()
    attach = complete(root, shell, "bpfman attach 7 ")
    assert values(attach) == [*types, "help"]
    assert all(item.help for item in attach)  # each type's one-line help
    assert values(complete(root, shell, "bpfman attach 7 tc")) == ["tc", "tcx"]
    assert values(complete(root, shell, "bpfman load file --programs ")) == [f"{t}:" for t in types]
    assert values(complete(root, shell, "bpfman load file --programs tr")) == ["tracepoint:"]
    # --programs takes every word up to the next flag
    line = "bpfman load image --programs tracepoint:a xdp:b k"
    assert values(complete(root, shell, line)) == ["kprobe:"]
    wanted = list(dict.fromkeys([*types, *PROG_TYPE_FILTERS.values()]))  # bpfman's, the kernel's
    assert values(complete(root, shell, "bpfman list programs --program-type ")) == wanted
    assert values(complete(root, shell, "bpfman list links -p cgroup")) == [
        v for v in wanted if v.startswith("cgroup")
    ]


@pytest.mark.parametrize("shell", SHELLS)
def test_paths_namespaces_and_cgroups(root: Root, pair: VethPair, shell: str) -> None:
    for line in ("bpfman load file --programs xdp:f -p ./bu", "bpfman load file --path ",
                 "bpfman run 1 --data-in ", "bpfman run 1 --data-in in --ctx-out ",
                 "bpfman dump xlated 1 --output-file ", "bpfman image build -t x -b ",
                 "bpfman image build --bc-amd64-el ", "bpfman system save -o ",
                 "bpfman system apply a.toml ", "bpfman attach 1 uprobe -t "):  # fmt: skip
        incomplete = "" if line.endswith(" ") else line.split()[-1]
        assert complete(root, shell, line) == [Item("file", incomplete, "")], line
    assert complete(root, shell, "bpfman image build -c ") == [Item("dir", "", "")]

    named = values(complete(root, shell, "bpfman attach 1 tcx -n "))
    assert {pair.netns_path_a, pair.netns_path_b} <= set(named)
    assert all(p.startswith("/var/run/netns/") for p in named)
    for given in (pair.ns_a, pair.netns_path_a):  # by name or path
        line = f"bpfman attach 1 xdp -n {given}"
        assert values(complete(root, shell, line)) == [pair.netns_path_a]
    line = "bpfman attach 1 netkit -n /proc/self/ns/n"
    assert complete(root, shell, line) == [Item("file", "/proc/self/ns/n", "")]

    mounts = cgroup2_mounts()
    assert mounts
    assert values(complete(root, shell, "bpfman attach 1 cgroup -c ")) == mounts
    inside = f"bpfman attach 1 cgroup -p 5 --cgroup-path {mounts[0]}/"
    assert complete(root, shell, inside) == [Item("dir", f"{mounts[0]}/", "")]


@pytest.mark.parametrize("shell", SHELLS)
def test_interfaces_here_or_in_the_namespace_given(root: Root, pair: VethPair, shell: str) -> None:
    here = sorted(os.listdir("/sys/class/net"))
    assert values(complete(root, shell, "bpfman attach 1 tcx -d ingress -i ")) == here
    line = f"bpfman attach 1 xdp -n {pair.netns_path_a} -p 5 -i "
    assert values(complete(root, shell, line)) == sorted([pair.if_a, "lo"])
    line = f"bpfman attach 1 netkit --netns {pair.netns_path_b} --iface bp"
    assert values(complete(root, shell, line)) == [pair.if_b]
    # a namespace that is not there: no candidates, and no message
    assert complete(root, shell, "bpfman attach 1 tc -n /var/run/netns/bpft-none -i ") == []


@pytest.mark.parametrize("shell", SHELLS)
def test_choices(root: Root, shell: str) -> None:
    choices = {
        "bpfman attach 1 tc -d ": ["ingress", "egress"],
        "bpfman attach 1 tcx -p 3 -d e": ["egress"],
        "bpfman attach 1 netkit -d ": ["primary", "peer"],
        "bpfman attach 1 xdp --proceed-on ": list(XDP.actions),
        "bpfman attach 1 tc --proceed-on ok p": ["pipe"],
        "bpfman load image -p ": ["Always", "IfNotPresent", "Never"],
        "bpfman image pull -p I": ["IfNotPresent"],
        "bpfman get program 1 -o ": ["table", "json"],
        "bpfman attach 1 --output ": ["table", "json"],
        "bpfman attach 1 tracepoint --output j": ["json"],
        "bpfman profile 1 ": list(METRICS),
    }
    assert "pipe" in TC.actions
    for line, expected in choices.items():
        assert values(complete(root, shell, line)) == expected, line


# -- quiet, read-only, light -------------------------------------------------------------
LINES = ("bpfman get program ", "bpfman detach ", "bpfman attach 1 ", "bpfman attach 1 xdp -i ",
         "bpfman list programs -p ", "bpfman load file --programs ", "bpfman image pull -p ",
         "bpfman image sign --key ", "bpfman attach 1 cgroup -c ", "bpfman system service --",
         "bpfman run 1 --data-in ")  # fmt: skip


def _snapshot(root: Path) -> tuple[list[str], list[str], str]:
    """The mounts on and under ``root``, the files under it and the state's bytes."""
    lines = Path("/proc/self/mountinfo").read_text().splitlines()
    mounts = sorted(line for line in lines if str(root) in line)
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*")) if root.exists() else []
    data = root / "db" / "data.mdb"
    digest = hashlib.sha256(data.read_bytes()).hexdigest() if data.exists() else ""
    return mounts, files, digest


def test_nothing_is_printed_or_changed_and_nothing_heavy_is_imported(
    root: Root, objects: Path, tmp_path: Path
) -> None:
    # a root never used: completion neither creates nor mounts it
    absent = tmp_path / "absent"
    before = _snapshot(absent)
    for line in LINES:
        complete(root, "bash", line, BPFMAN_ROOT=str(absent))
    assert _snapshot(absent) == before and not absent.exists()

    # a live root after a crashed writer: the same files, bytes and mounts afterwards
    prog = load_counter(root, objects)
    store = Store(Layout(root.path).db)
    with store.locked():
        crashed = Txn.staging_only()
        crashed.journal_put(1, {"op": "load", "phase": "pending", "resources": []})
        store.commit(crashed.staged)
    before = _snapshot(root.path)
    for line in LINES:
        complete(root, "bash", line)
    assert _snapshot(root.path) == before
    root.run("list", "programs")  # a reader does recover: the entry was a real one
    with store.read() as txn:
        assert txn.journal() == []
    store.close()

    # a store that is not LMDB: no candidates, no message, left as it was
    broken = tmp_path / "broken"
    (broken / "db").mkdir(parents=True)
    (broken / "db" / "data.mdb").write_bytes(b"\x07" * 8192)
    assert complete(root, "bash", "bpfman get program ", BPFMAN_ROOT=str(broken)) == []
    assert (broken / "db" / "data.mdb").read_bytes() == b"\x07" * 8192

    # another user cannot read the state: nothing, quietly; the rest still completes
    for line, expected in (("bpfman get program ", []), ("bpfman attach 1 xd", ["xdp"])):
        proc = ask(root, "bash", line, [*NOBODY, *BPFMAN])
        assert (proc.returncode, proc.stderr) == (0, "")
        assert values(parse("bash", proc.stdout)) == expected
    assert values(complete(root, "bash", "bpfman unload ")) == [str(prog)]

    # what each completion imported
    probe = (
        "import json, sys\nfrom bpfman.cli.entry import main\nmain([])\n"
        "print(json.dumps(sorted(sys.modules)), file=sys.stderr)"
    )
    for line in LINES:
        proc = ask(root, "bash", line, [sys.executable, "-c", probe])
        modules = json.loads(proc.stderr)
        heavy = [m for m in modules if m.split(".")[0] in HEAVY or m in HEAVY]
        assert heavy == [], (line, heavy)


# -- a real bash in tmux -----------------------------------------------------------------
class Terminal:
    """An interactive bash with bpfman's completion sourced, in a private tmux server."""

    def __init__(self, root: Root, tmp: Path) -> None:
        self.socket = tmp / "tmux.sock"
        script = Path(run([*BPFMAN, "completions", str(tmp / "comp"), "--shell", "bash"]).strip())
        bindir = tmp / "bin"  # `bpfman` as the script calls it: this checkout's
        bindir.mkdir()
        (bindir / "bpfman").write_text(f'#!/bin/sh\nexec {sys.executable} -m bpfman "$@"\n')
        (bindir / "bpfman").chmod(0o755)
        env = {**root.env, "PATH": f"{bindir}:{os.environ['PATH']}"}
        subprocess.run(
            [*self._tmux, "new-session", "-d", "-x", "200", "-y", "50", "-c", str(REPO),
             "bash --norc --noprofile"],
            env=env, check=True, capture_output=True,
        )  # fmt: skip
        self.type(f"source {script}; PS1='$ '\n")  # what follows is read once it is sourced

    @property
    def _tmux(self) -> list[str]:
        return ["tmux", "-S", str(self.socket), "-f", "/dev/null"]

    def type(self, text: str, *keys: str) -> None:
        run([*self._tmux, "send-keys", "-t", "0", "-l", text])
        if keys:
            run([*self._tmux, "send-keys", "-t", "0", *keys])

    def screen(self) -> str:
        return run([*self._tmux, "capture-pane", "-p", "-t", "0"])

    def wait_for(self, text: str) -> str:
        """The screen once it shows ``text`` or an error (or after 30 s: the test says why)."""
        deadline = time.monotonic() + 30
        while True:
            screen = self.screen()
            if text in screen or "rror" in screen or time.monotonic() > deadline:
                return screen
            time.sleep(0.1)

    def close(self) -> None:
        subprocess.run([*self._tmux, "kill-server"], check=False, capture_output=True)
        self.socket.unlink(missing_ok=True)


@pytest.fixture
def terminal(root: Root, tmp_path: Path) -> Iterator[Terminal]:
    term = Terminal(root, tmp_path)
    try:
        yield term
    finally:
        term.close()


def _clean(screen: str) -> None:
    assert "rror" not in screen and "Traceback" not in screen, screen


def test_bash_lists_the_types_for_attach(terminal: Terminal, root: Root, objects: Path) -> None:
    prog = load_counter(root, objects)
    terminal.type(f"bpfman attach {prog} ", "Tab", "Tab")
    screen = terminal.wait_for("tracepoint")
    _clean(screen)
    assert set(installed_types()) <= set(screen.split()), screen


def test_bash_completes_a_program_id(terminal: Terminal, root: Root, objects: Path) -> None:
    prog = load_counter(root, objects)
    terminal.type("bpfman get program ", "Tab")
    screen = terminal.wait_for(f"bpfman get program {prog}")
    _clean(screen)
    assert f"$ bpfman get program {prog}" in screen, screen


def test_bash_completes_a_path(terminal: Terminal) -> None:
    terminal.type("bpfman load file -p ./bu", "Tab")
    screen = terminal.wait_for("./build/")
    _clean(screen)
    assert "$ bpfman load file -p ./build/" in screen, screen


def test_bash_completes_an_interface_in_a_namespace(terminal: Terminal, pair: VethPair) -> None:
    terminal.type(f"bpfman attach 1 tcx -d ingress -n {pair.netns_path_a} -i bp", "Tab")
    screen = terminal.wait_for(f"-i {pair.if_a}")
    _clean(screen)
    assert f"-i {pair.if_a}" in screen, screen
