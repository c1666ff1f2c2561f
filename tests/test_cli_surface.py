"""The CLI and library surface against the seeds: what an outside audit found.

Namespaces remembered across commands, a closed stdout, types checked at
load, namespace errors, the library's checks, ``--output`` placement, link
metadata, ``help``/``-V``/``man``/``completions``, the ``--program-type``
table, output details and error wording.
"""

from __future__ import annotations

import atexit
import gzip
import json
import os
import subprocess
import threading
from pathlib import Path
from typing import Any

import pytest

from bpfman.cli.entry import main
from bpfman.core.manager import Bpfman
from bpfman.core.state import _OPEN
from bpfman.discovery import discover
from bpfman.errors import InvalidInputError
from bpfman.kernel.names import PROG_TYPE_FILTERS, squash
from tests.helpers import run
from tests.helpers.bpftool import net_show
from tests.helpers.net import VethPair
from tests.helpers.root import BPFMAN, REPO, Root

TRACEPOINT = "syscalls/sys_enter_getppid"


def load(root: Root, obj: Path, spec: str, *extra: str | int) -> int:
    loaded: Any = root.json("load", "file", "-p", obj, "--programs", spec, *extra)
    return int(loaded[0]["id"])


def chain(root: Root, objects: Path, kind: str) -> int:
    return load(
        root, objects / f"{kind}_chain.bpf.o", f"{kind}:{kind}_chain",
        "-g", "prog_slot=00000000", "verdict=00000000",
    )  # fmt: skip


def attach(root: Root, *args: str | int) -> Any:
    return json.loads(root.run("attach", "--output", "json", *args).stdout)


def in_netns(root: Root, ns: str, *args: str | int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["ip", "netns", "exec", ns, *BPFMAN, *map(str, args)],
        env=root.env, cwd=REPO, capture_output=True, text=True,
    )  # fmt: skip


# -- 1. a link remembers the namespace it was attached in ------------------------
@pytest.mark.parametrize(
    ("kind", "direction"),
    [("xdp", None), ("tc", "ingress"), ("tc", "egress"), ("tcx", "ingress"), ("tcx", "egress")],
)
def test_detach_acts_in_the_namespace_the_link_was_attached_in(
    root: Root, objects: Path, kind: str, direction: str | None
) -> None:
    root.env["BPFMAN_FREPLACE"] = "0"
    prog = chain(root, objects, kind)
    with VethPair() as pair:
        where = ["-d", direction] if direction else []
        proc = in_netns(
            root, pair.ns_b, "attach", "--output", "json", prog, kind, *where,
            "-i", pair.if_b, "-p", 10,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        link = json.loads(proc.stdout)

        def attached() -> bool:
            shown = net_show(pair.if_b, pair.netns_path_b)
            return prog in [e["id"] for e in shown["xdp"] + shown["tc"]] + [
                e["prog_id"] for e in shown["tcx"]
            ]

        assert attached()
        root.run("detach", link["id"])  # from the root namespace
        assert not attached()
        assert root.json("list", "links") == []
        if kind == "tc":
            assert "clsact" not in run(["tc", "-n", pair.ns_b, "qdisc", "show", "dev", pair.if_b])
        proc = in_netns(root, pair.ns_b, "attach", prog, kind, *where, "-i", pair.if_b, "-p", 10)
        assert proc.returncode == 0, proc.stderr
        root.run("unload", prog)  # unload, too, finds the namespace
        assert not attached()


def test_a_namespace_that_is_really_gone_is_said_so(root: Root, objects: Path) -> None:
    root.env["BPFMAN_FREPLACE"] = "0"
    prog = chain(root, objects, "tc")
    pair = VethPair()
    try:
        proc = in_netns(root, pair.ns_b, "attach", "--output", "json", prog, "tc",
                        "-d", "ingress", "-i", pair.if_b, "-p", 10)  # fmt: skip
        link = json.loads(proc.stdout)
    finally:
        pair.close()
    proc = root.run("detach", link["id"])
    assert "is gone" in proc.stderr
    assert root.json("list", "links") == []


# -- 2. a closed stdout ---------------------------------------------------------
def test_a_closed_stdout_ends_quietly(root: Root, objects: Path) -> None:
    for _ in range(3):
        load(root, objects / "tracepoint_counter.bpf.o", "tracepoint:tracepoint_counter")
    for args in (["list", "programs"], ["list", "programs", "-o", "json"], ["get", "program", "1"]):
        proc = subprocess.Popen(
            [*BPFMAN, *args], env=root.env, cwd=REPO, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert proc.stdout is not None
        proc.stdout.close()  # the reader is gone before bpfman writes
        _, err = proc.communicate(timeout=30)
        if args[0] == "get":
            continue  # program 1 may not exist; only the pipe matters above
        assert err == "", err
        assert proc.returncode == 0  # documented: a reader that stops early is no failure


def test_a_closed_stdout_ends_quietly_when_output_waits_in_its_buffer(root: Root) -> None:
    """Without PYTHONUNBUFFERED a short listing stays buffered until the command ends,
    so the reader is found gone only then: still a quiet 0, on the fast path and
    on the full CLI (``--flag=value`` takes it there)."""
    env = {k: v for k, v in root.env.items() if k != "PYTHONUNBUFFERED"}
    fast, full = ["list", "links", "-o", "json"], ["list", "programs", "--application=x"]
    for args in (["list", "programs"], fast, full):
        proc = subprocess.Popen(
            [*BPFMAN, *args], env=env, cwd=REPO, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert proc.stdout is not None
        proc.stdout.close()
        _, err = proc.communicate(timeout=30)
        assert (proc.returncode, err) == (0, ""), args


def test_the_fast_path_leaves_nothing_to_run_at_exit(
    root: Root, objects: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The ``bpfman`` process ends a plain ``list`` or ``load file`` with os._exit, which
    skips exit handlers, finalizers and threads: these commands may leave none, and
    must close the store themselves."""
    monkeypatch.setenv("BPFMAN_ROOT", str(root.path))
    handlers, threads = atexit._ncallbacks(), threading.active_count()
    obj = objects / "tracepoint_counter.bpf.o"
    spec = "tracepoint:tracepoint_counter"
    assert main(["load", "file", "-p", str(obj), "--programs", spec, "-o", "json"]) == 0
    [loaded] = json.loads(capsys.readouterr().out)
    assert main(["list", "programs"]) == 0
    assert main(["list", "links", "-o", "json"]) == 0
    assert (atexit._ncallbacks(), threading.active_count()) == (handlers, threads)
    assert os.path.realpath(root.path / "db") not in _OPEN  # the store is closed
    root.run("unload", loaded["id"])


# -- 3. the type given at load is checked -------------------------------------------
def test_the_type_given_at_load_must_match_the_section(root: Root, objects: Path) -> None:
    line = root.fail(
        "load", "file", "-p", objects / "xdp_chain.bpf.o", "--programs", "tc:xdp_chain"
    )
    assert line == "Error: xdp_chain is an xdp program (section `xdp`), not tc"
    line = root.fail(
        "load", "file", "-p", objects / "tc_chain.bpf.o", "--programs", "tracepoint:tc_chain"
    )
    assert "tc_chain is a tc program (section `classifier`), not tracepoint" in line
    # A type that shares the kernel type is fine: tcx from a classifier section.
    prog = load(root, objects / "tc_chain.bpf.o", "tcx:tc_chain")
    root.run("unload", prog)
    assert root.json("list", "programs") == []


# -- 4. namespace errors name the path and the reason -------------------------------
def test_namespace_errors_name_the_path(root: Root, objects: Path, tmp_path: Path) -> None:
    prog = chain(root, objects, "tcx")
    base: list[str | int] = ["attach", prog, "tcx", "-d", "ingress", "-i", "lo", "-p", 10, "-n"]
    assert root.fail(*base, "/etc/hostname") == "Error: /etc/hostname is not a network namespace"
    assert root.fail(*base, str(tmp_path)) == f"Error: {tmp_path} is not a network namespace"
    assert "network namespace /nope not found" in root.fail(*base, "/nope")
    uprobe = load(root, objects / "uprobe_counter.bpf.o", "uprobe:uprobe_counter")
    line = root.fail("attach", uprobe, "uprobe", "-t", "libc", "-f", "malloc", "-c", 4194304)
    assert line == "Error: no process with pid 4194304"
    assert root.json("list", "links") == []


# -- 5. the library checks what the CLI checks ----------------------------------------
def test_the_library_checks_what_the_cli_checks(root: Root, objects: Path) -> None:
    xdp = chain(root, objects, "xdp")
    tracepoint = load(root, objects / "tracepoint_counter.bpf.o", "tracepoint:tracepoint_counter")
    uprobe = load(root, objects / "uprobe_counter.bpf.o", "uprobe:uprobe_counter")
    cases: list[tuple[int, Any, str]] = [
        (xdp, {"iface": "lo", "priority": 5000}, "priority 5000 is out of range 1-1000"),
        (xdp, {"priority": 5}, "missing option 'iface'"),
        (xdp, {"iface": "lo", "priority": "abc"}, "priority must be an integer"),
        (xdp, {"iface": "lo", "priority": 5, "colour": "red"}, "unknown option 'colour'"),
        (xdp, {"iface": "lo", "priority": 5, "proceed_on": ["maybe"]}, "invalid proceed-on"),
        (uprobe, {}, "missing option 'target'"),
        (tracepoint, {"tracepoint": "nocategory"}, "expected CATEGORY/NAME"),
        (tracepoint, bpfman_params("XdpParams", "lo", 5), "is a tracepoint program, not xdp"),
    ]
    with Bpfman(root.path) as mgr:
        for prog, params, message in cases:
            with pytest.raises(InvalidInputError, match=message):
                mgr.attach(prog, params)
        with pytest.raises(InvalidInputError, match="keys and values must be strings"):
            mgr.attach(tracepoint, {"tracepoint": TRACEPOINT}, metadata={"a": 1})  # type: ignore[dict-item]
        obj = objects / "tracepoint_counter.bpf.o"
        with pytest.raises(InvalidInputError, match="must be non-empty bytes, got str"):
            mgr.load_file(obj, ["tracepoint:tracepoint_counter"], globals={"increment": "01"})  # type: ignore[dict-item]
        assert mgr.list_links() == []


def test_two_managers_on_one_root_in_one_process(root: Root, objects: Path) -> None:
    """LMDB refuses a second open of one environment in a process: bpfman shares it."""
    obj = objects / "tracepoint_counter.bpf.o"
    with Bpfman(root.path) as first:
        [prog] = first.load_file(obj, ["tracepoint:tracepoint_counter"])
        with Bpfman(root.path) as second:
            assert [p.id for p in second.list_programs()] == [prog.id]
            link = second.attach(prog.id, {"tracepoint": TRACEPOINT})
        assert [entry.link.id for entry in first.list_links()] == [link.id]  # still open
        first.unload(prog.id)
    assert root.json("list", "programs") == []


def bpfman_params(name: str, *args: Any) -> Any:
    import bpfman

    return getattr(bpfman, name)(*args)


# -- 6, 7. --output placement, link metadata --------------------------------------------
def test_output_before_or_after_the_type_and_link_metadata(root: Root, objects: Path) -> None:
    prog = load(
        root, objects / "tracepoint_counter.bpf.o", "tracepoint:tracepoint_counter", "-a", "demo"
    )
    cases: list[list[str | int]] = [
        ["attach", prog, "--output", "json", "tracepoint", "-t", TRACEPOINT],
        ["attach", "--output", "json", prog, "tracepoint", "-t", "syscalls/sys_enter_getpid"],
        ["attach", prog, "tracepoint", "-t", "syscalls/sys_enter_gettid", "--output", "json"],
    ]
    for args in cases:
        link = json.loads(root.run(*args).stdout)
        assert link["metadata"] == {"bpfman.io/application": "demo"}
    text = root.run("get", "link", link["id"]).stdout
    assert " Metadata:      bpfman.io/application=demo" in text


# -- 8. help, -V, man, completions ------------------------------------------------------
def test_help_version_man_pages_and_completions(root: Root, tmp_path: Path) -> None:
    assert root.run("-V").stdout.startswith("bpfman ")
    assert root.run("help").stdout == root.run("--help").stdout
    assert root.run("help", "load", "file").stdout == root.run("load", "file", "--help").stdout
    assert root.run("attach", "1", "help").stdout.startswith("Usage: bpfman attach")
    assert "help" in root.run("--help").stdout
    assert "unrecognized subcommand 'nope'" in root.fail("help", "nope")

    out = root.run("man", tmp_path / "man").stdout.split()
    names = sorted(Path(p).name for p in out)
    for expected in ("bpfman.1.gz", "bpfman-load-file.1.gz", "bpfman-attach-xdp.1.gz",
                     "bpfman-list-programs.1.gz", "bpfman-image-build.1.gz", "bpfctl.1.gz"):  # fmt: skip
        assert expected in names
    page = gzip.decompress((tmp_path / "man" / "bpfman-load-file.1.gz").read_bytes()).decode()
    assert page.startswith(".TH BPFMAN-LOAD-FILE 1")
    # The page says what --help says, word for word (roff's minus signs for its dashes;
    # tests/test_man_pages.py renders every page).
    assert "Example: \\-\\-programs fentry:test_fentry:do_unlinkat" in page
    again = root.run("man", tmp_path / "again").stdout.split()
    assert [Path(p).read_bytes() for p in sorted(out)] == [
        Path(p).read_bytes() for p in sorted(again)
    ]  # reproducible

    paths = root.run("completions", tmp_path / "comp").stdout.split()
    assert sorted(Path(p).name for p in paths) == ["_bpfman", "bpfman.bash", "bpfman.fish"]
    run(["bash", "-n", str(tmp_path / "comp" / "bpfman.bash")])
    commands = root.run("--help").stdout.split("Commands:")[1].split("Options:")[0]
    assert "load" in commands and " man " not in commands and "completions" not in commands


# -- 9. --program-type: help and accepted values from one table -------------------------
def test_program_type_help_lists_exactly_what_is_accepted(root: Root) -> None:
    """bpfman's names (the installed plugins') and the kernel's, each accepted."""
    help_text = root.run("list", "programs", "--help").stdout
    listed = help_text.split("[possible values: ")[1].split("]")[0].replace("\n", " ")
    ours, _, kernels = listed.partition(" (bpfman's); ")
    bpfman_names = [v.strip() for v in ours.split(",")]
    kernel_names = [v.strip() for v in kernels.removesuffix(" (the kernel's)").split(",")]
    assert bpfman_names == sorted(discover(None))
    assert "tcx" in bpfman_names and "kprobe" in bpfman_names
    # The kernel's names, less those bpfman's spell the same way (tc, xdp...).
    assert kernel_names == [
        n for n in PROG_TYPE_FILTERS.values() if squash(n) not in map(squash, bpfman_names)
    ]
    assert "lwt-seg6-local" in kernel_names and "probe" in kernel_names
    for value in [*bpfman_names, *kernel_names, "lwt-seg6local", "LWT_SEG6_LOCAL", "tp-btf"]:
        root.run("list", "programs", "--all", "-p", value)
    assert "unknown program type 'nope'" in root.fail("list", "programs", "-p", "nope")


# -- 10. output details -----------------------------------------------------------------
def test_links_cell_globals_as_given(root: Root, objects: Path) -> None:
    prog = load(
        root, objects / "tracepoint_counter.bpf.o", "tracepoint:tracepoint_counter",
        "-g", "target_pid=0000000A", "increment=0A000000",
    )  # fmt: skip
    for tp in ("sys_enter_getppid", "sys_enter_getpid", "sys_enter_gettid", "sys_enter_getuid"):
        root.run("attach", prog, "tracepoint", "-t", f"syscalls/{tp}")
    row = root.run("list", "programs").stdout.splitlines()[1]
    assert row.endswith(", ...") and "(4) " in row
    text = root.run("get", "program", prog).stdout
    assert " Global:        target_pid=0000000A\n                increment=0A000000" in text


def test_image_labels_name_retprobes_as_the_reference_does(root: Root, objects: Path) -> None:
    out = root.run("image", "generate-build-args", "-b", objects / "kprobe_counter.bpf.o").stdout
    programs = json.loads(out.split("PROGRAMS=", 1)[1].splitlines()[0])
    assert programs == {"kprobe_counter": "kprobe", "kretprobe_counter": "kretprobe"}


# -- 11. errors in the user's terms -----------------------------------------------------
def test_errors_in_the_users_terms(root: Root, objects: Path, tmp_path: Path) -> None:
    assert "is a directory" in root.fail(
        "load", "file", "-p", tmp_path, "--programs", "tracepoint:f"
    )
    assert "ids are unsigned" in root.fail("get", "program", "-1")
    assert "ids are unsigned" in root.fail("unload", "-5")
    with VethPair() as pair:
        prog = chain(root, objects, "tcx")
        where: list[str | int] = [
            "-d",
            "ingress",
            "-i",
            pair.if_b,
            "-p",
            10,
            "-n",
            pair.netns_path_b,
        ]
        root.run("attach", prog, "tcx", *where)
        line = root.fail("attach", prog, "tcx", *where)
        assert line == (f"Error: program {prog} is already attached to tcx {pair.if_b} ingress"), (
            line
        )
        root.run("unload", prog)
    uprobe = load(root, objects / "uprobe_counter.bpf.o", "uprobe:uprobe_counter")
    line = root.fail("attach", uprobe, "uprobe", "-t", "libc", "-f", "malloc", "-o", 2**40)
    assert "/proc/self/fd" not in line and "libc" in line


def test_an_empty_root_is_refused_not_taken_for_the_working_directory(
    objects: Path, tmp_path: Path
) -> None:
    obj = str(objects / "tracepoint_counter.bpf.o")
    for args in (["list", "programs"], ["load", "file", "-p", obj, "--programs", "tracepoint:x"]):
        proc = subprocess.run(
            [*BPFMAN, "--root", "", *args], cwd=tmp_path, capture_output=True, text=True
        )
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.strip() == (
            "Error: Invalid value for '--root' / '--runtime-dir': must name a directory, not be empty"
        )
    assert list(tmp_path.iterdir()) == []
