"""What the reference's current CLI offers, beside the guide's verbs (issue 19).

Noun-first groups, bulk removal, list filters, ``version``, ``image inspect`` and
``image verify``, ``dispatcher list|get``, ``--runtime-dir``, the application's
metadata key, and one set of type names (bpfman's and the kernel's) everywhere a
type is filtered on. Everything runs through the real CLI against the real kernel
and is checked from outside (bpftool, the registry) where it changes something.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest

from bpfman.errors import InvalidInputError
from bpfman.images import BytecodeSources, ImageSettings, parse_reference
from bpfman.images.build import build_native
from bpfman.images.signing import load_private_key, sign_image
from bpfman.images.transport import RegistryClient
from bpfman.toolbox.metrics import BpfmanCollector
from tests.helpers import run
from tests.helpers.bpffs import private_bpffs
from tests.helpers.bpftool import bpftool, net_show, prog_ids
from tests.helpers.chains import attach_tcx, load_chain
from tests.helpers.net import VethPair
from tests.helpers.registry import Registry, infer_type, write_keypair
from tests.helpers.root import BPFMAN, REPO, Root, load_counter
from tests.helpers.service import pb, running_service
from tests.helpers.wait import eventually

TRACEPOINTS = ("syscalls/sys_enter_getppid", "syscalls/sys_enter_getpid")
MISSING = (4294967295, 4294967294)  # ids no kernel object and no link of a test has


def ids(rows: Any) -> set[int]:
    return {int(row["id"]) for row in rows}


def quiet(root: Root, *args: str | int) -> list[int]:
    """``ARGS -q``: the ids it prints, one a line."""
    return [int(word) for word in root.run(*args, "-q").stdout.split()]


# -- noun-first groups --------------------------------------------------------------------
def test_noun_first_groups_are_the_verb_commands(root: Root, objects: Path, tmp_path: Path) -> None:
    from bpfman.cli.main import cli

    def group(command: click.Command | None) -> click.Group:
        assert isinstance(command, click.Group)
        return command

    commands = cli.commands
    get, listing = group(commands["get"]), group(commands["list"])
    assert group(commands["program"]).commands == {
        "load": commands["load"],
        "unload": commands["unload"],
        "get": get.commands["program"],
        "list": listing.commands["programs"],
    }
    assert group(commands["link"]).commands == {
        "attach": commands["attach"],
        "detach": commands["detach"],
        "get": get.commands["link"],
        "list": listing.commands["links"],
    }

    obj = objects / "tracepoint_counter.bpf.o"
    loaded = root.json(
        "program", "load", "file", "-p", obj, "--programs", "tracepoint:tracepoint_counter"
    )
    prog = int(loaded[0]["id"])
    noun, verb = root.json("program", "get", prog), root.json("get", "program", prog)
    assert noun["bpfman"] == verb["bpfman"] and noun["kernel"]["tag"] == verb["kernel"]["tag"]
    assert root.run("program", "list").stdout == root.run("list", "programs").stdout
    made = json.loads(
        root.run(
            "link", "attach", "--output", "json", prog, "tracepoint", "-t", TRACEPOINTS[0]
        ).stdout
    )
    assert root.json("link", "get", made["id"]) == root.json("get", "link", made["id"]) == made
    assert root.run("link", "list").stdout == root.run("list", "links").stdout
    assert [info["prog_id"] for info in bpftool("link", "show")].count(prog) == 1
    root.run("link", "detach", made["id"])
    assert root.json("list", "links") == []
    assert prog not in [info["prog_id"] for info in bpftool("link", "show")]
    root.run("program", "unload", prog)
    assert eventually(lambda: prog not in prog_ids())

    # Help and man pages follow: the same text under either path.
    verb = root.run("load", "file", "--help").stdout
    noun = root.run("help", "program", "load", "file").stdout
    assert noun == verb.replace("bpfman load file", "bpfman program load file")
    assert "link attach|detach|get|list" in root.run("--help").stdout
    pages = {Path(p).name for p in root.run("man", tmp_path / "man").stdout.split()}
    assert {"bpfman-program-load-file.1.gz", "bpfman-link-detach.1.gz"} <= pages
    assert "bpfman-list-program.1.gz" not in pages  # a hidden alias is no page


# -- bulk removal -------------------------------------------------------------------------
def test_unload_and_detach_take_several_ids(root: Root, objects: Path, foreign: int) -> None:
    progs = [load_counter(root, objects) for _ in range(3)]
    links = [root.attach(progs[0], "tracepoint", "-t", tp)["id"] for tp in TRACEPOINTS]

    proc = root.run("detach", links[0], MISSING[0], links[1], check=False)
    assert proc.returncode == 3, proc.stderr
    assert proc.stderr.splitlines() == [
        f"Error: no link with id {MISSING[0]}",
        "Error: 1 of 3 links were not detached",
    ]
    assert root.json("list", "links") == []
    assert progs[0] not in [info["prog_id"] for info in bpftool("link", "show")]
    assert root.run("detach", *MISSING, "--ignore-missing").stdout == ""

    # One id fails as it always did: one line, its own status.
    assert root.fail("detach", MISSING[0]) == f"Error: no link with id {MISSING[0]}"
    assert root.run("unload", MISSING[0], check=False).returncode == 3

    # --ignore-missing skips what is not there, never a program bpfman does not manage.
    proc = root.run(
        "unload", progs[0], MISSING[0], progs[1], foreign, "--ignore-missing", check=False
    )
    assert proc.returncode == 3, proc.stderr
    assert proc.stderr.splitlines() == [
        f"Error: program {foreign} is not managed by bpfman",
        "Error: 1 of 4 programs were not unloaded",
    ]
    live = prog_ids()
    assert progs[0] not in live and progs[1] not in live
    assert foreign in live and progs[2] in live
    assert quiet(root, "list", "programs") == [progs[2]]
    root.run("program", "unload", progs[2], progs[2], "--ignore-missing")
    assert quiet(root, "list", "programs") == []
    assert "the status of the first failure" in root.run("unload", "--help").stdout
    # Unprivileged: one line for the whole command, not one per id.
    proc = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *BPFMAN, "unload",
         str(progs[2]), str(MISSING[0])],
        capture_output=True, text=True, cwd=REPO, env=root.env,
    )  # fmt: skip
    assert proc.returncode == 4 and proc.stderr.count("\n") == 1, proc.stderr


# -- list filters and type names ---------------------------------------------------------
@pytest.fixture
def mixed(root: Root, objects: Path, pair: VethPair) -> dict[str, int]:
    """A tracepoint, a tcx, a kprobe (not attached: no kprobes here) and a uprobe program."""
    tp = load_counter(root, objects, "-a", "tp-app", "-m", "owner=acme,env=prod")
    tcx = root.load_id(
        objects / "tcx_chain.bpf.o", "--programs", "tcx:tcx_chain", "-a", "net-app",
        "-m", "owner=acme",
    )  # fmt: skip
    kp = root.load_id(objects / "kprobe_counter.bpf.o", "--programs", "kprobe:kprobe_counter")
    up = root.load_id(
        objects / "uprobe_counter.bpf.o", "--programs", "uprobe:uprobe_counter", "-m", "env=dev"
    )
    root.run("attach", tp, "tracepoint", "-t", TRACEPOINTS[0])
    attach_tcx(root, tcx, pair.if_b, pair.netns_path_b, 5)
    root.run("attach", up, "uprobe", "-t", "libc", "-f", "getpid")
    return {"tp": tp, "tcx": tcx, "kp": kp, "up": up}


@pytest.fixture
def foreign_kprobe(objects: Path) -> Iterator[int]:
    """A kprobe-typed program bpftool loaded (not bpfman)."""
    with private_bpffs("bpft-fkp-") as fs:
        run(["bpftool", "prog", "load", str(objects / "kprobe_counter.bpf.o"), f"{fs}/p"])
        yield int(bpftool("prog", "show", "pinned", f"{fs}/p")["id"])


def test_one_set_of_type_names(root: Root, mixed: dict[str, int], foreign_kprobe: int) -> None:
    tp, tcx, kp, up = mixed["tp"], mixed["tcx"], mixed["kp"], mixed["up"]

    def progs(*args: str) -> set[int]:
        return ids(root.json("list", "programs", *args))

    # bpfman's names, as --programs and attach spell them, and the kernel's.
    assert progs("-p", "tcx") == {tcx}
    assert progs("-p", "kprobe") == {kp}
    assert progs("-p", "uprobe") == {up}
    assert progs("-p", "tp-btf") == set()
    assert progs("-p", "probe") == progs("-p", "PROBE") == {kp, up}
    assert progs("-p", "tc") == {tcx}  # the kernel's sched_cls, as the guide has it
    assert progs("--program-type", "tracepoint") == {tp}
    # With --all a bpfman name also selects the kernel's programs of its kernel type.
    every = progs("--all", "-p", "kprobe")
    assert {kp, foreign_kprobe} <= every and up not in every
    assert foreign_kprobe in progs("--all", "-p", "probe")
    links: Any = root.json("list", "links", "-p", "tcx")
    assert [row["program_id"] for row in links] == [tcx]
    message = root.fail("list", "programs", "-p", "kretprobe")
    assert "unknown program type 'kretprobe'" in message
    assert "tcx" in message and "probe" in message  # both sets named

    # The library takes both too: type= reads a shared name as bpfman's, kernel_type= as
    # the kernel's; given together, both must hold.
    with root.manager() as mgr:

        def lib(**kw: Any) -> set[int]:
            return {row.id for row in mgr.list_programs(**kw)}

        assert lib(type="tcx") == lib(kernel_type="tcx") == {tcx}
        assert lib(type="tc") == set() and lib(kernel_type="tc") == {tcx}
        assert lib(type="probe") == lib(kernel_type="probe") == {kp, up}
        assert lib(type="tcx", kernel_type="tc") == {tcx}
        assert lib(type="tcx", kernel_type="tracepoint") == set()
        assert foreign_kprobe in lib(all=True, type="kprobe")
        assert {d.link.program_id for d in mgr.list_links(type="uprobe")} == {up}
        with pytest.raises(InvalidInputError, match="unknown program type 'nope'"):
            mgr.list_programs(type="nope")


def test_list_filters(root: Root, mixed: dict[str, int], foreign: int) -> None:
    tp, tcx, kp, up = mixed["tp"], mixed["tcx"], mixed["kp"], mixed["up"]
    assert quiet(root, "list", "programs") == sorted([tp, tcx, kp, up])
    assert quiet(root, "list", "programs", "-o", "json") == sorted([tp, tcx, kp, up])
    assert set(quiet(root, "list", "programs", "--attached")) == {tp, tcx, up}
    assert quiet(root, "list", "programs", "--unattached") == [kp]
    assert quiet(root, "list", "programs", "--all", "--unattached") == [kp]  # bpfman's only
    assert foreign in quiet(root, "list", "programs", "--all")
    message = root.fail("list", "programs", "--attached", "--unattached")
    assert message == "Error: --attached and --unattached exclude each other"

    # -l: Kubernetes-style selectors; -m keeps working beside it.
    assert quiet(root, "list", "programs", "-l", "owner=acme,env!=prod") == [tcx]
    assert set(quiet(root, "list", "programs", "-l", "env")) == {tp, up}
    assert set(quiet(root, "list", "programs", "-l", "!env")) == {tcx, kp}
    assert quiet(root, "list", "programs", "--selector", "env==dev") == [up]
    assert quiet(root, "list", "programs", "-m", "owner=acme", "-l", "env!=prod") == [tcx]
    assert quiet(root, "list", "programs", "-l", "owner=acme", "-l", "env=prod") == [tp]
    assert "invalid selector '=x'" in root.fail("list", "programs", "-l", "=x")

    tp_links = [d["id"] for d in root.json("list", "links") if d["program_id"] == tp]
    assert quiet(root, "list", "links", "--program-id", str(tp)) == tp_links
    assert [d["program_id"] for d in root.json("list", "links", "--kind", "tcx")] == [tcx]
    both: Any = root.json("list", "links", "--kind", "tracepoint,uprobe")
    assert {d["program_id"] for d in both} == {tp, up}
    assert len(quiet(root, "list", "links", "--kind", "tracepoint", "--kind", "uprobe")) == 2
    assert quiet(root, "list", "links", "--program-id", str(kp)) == []
    assert "unknown link kind 'bogus'" in root.fail("list", "links", "--kind", "bogus")
    assert root.run("list", "links", "--program-id", "x", check=False).returncode == 2

    from bpfman import Selector

    with root.manager() as mgr:
        assert [d.link.id for d in mgr.list_links(program_id=tp)] == tp_links
        assert {d.program.id for d in mgr.list_links(kind=["tcx", "uprobe"])} == {tcx, up}
        assert [r.id for r in mgr.list_programs(attached=False)] == [kp]
        chosen = mgr.list_programs(selector=Selector.parse("owner=acme,env!=prod"))
        assert [r.id for r in chosen] == [tcx]


def test_plain_list_and_load_stay_click_free(root: Root, mixed: dict[str, int]) -> None:
    """Filters and the noun-first spelling take the fast path (no click import)."""
    probe = (
        "import sys; from bpfman.cli.entry import main; code = main(sys.argv[1:]); "
        "assert 'click' not in sys.modules, 'click imported'; sys.exit(code)"
    )
    for args in (
        ["list", "programs", "-q", "-l", "env!=prod", "--attached", "-p", "tcx"],
        ["program", "list", "--unattached", "-o", "json"],
        ["list", "links", "--kind", "tracepoint", "-q", "--program-id", str(mixed["tp"])],
        ["link", "list", "-p", "probe"],
        ["list", "programs", "--runtime-dir", str(root.path), "-q"],
    ):
        proc = subprocess.run(
            [sys.executable, "-c", probe, *args], env=root.env, capture_output=True, text=True,
            cwd=REPO,
        )  # fmt: skip
        assert proc.returncode == 0, (args, proc.stderr)


# -- application metadata -----------------------------------------------------------------
def test_application_key_and_the_old_one(root: Root, objects: Path) -> None:
    new = load_counter(root, objects, "-a", "fresh")
    old = load_counter(root, objects, "-m", "bpfman_application=old")  # as older records hold it
    assert root.json("get", "program", new)["bpfman"]["metadata"] == {
        "bpfman.io/application": "fresh"
    }
    rows = {row["id"]: row["application"] for row in root.json("list", "programs")}
    assert rows == {new: "fresh", old: "old"}
    table = root.run("list", "programs").stdout.splitlines()
    assert any(line.split()[:2] == [str(old), "old"] for line in table)
    for key in ("bpfman.io/application", "bpfman_application"):
        assert quiet(root, "list", "programs", "-m", f"{key}=old") == [old]
        assert quiet(root, "list", "programs", "-l", f"{key}=fresh") == [new]
    assert quiet(root, "list", "programs", "--application", "old") == [old]
    link = root.attach(old, "tracepoint", "-t", TRACEPOINTS[0])
    assert quiet(root, "list", "links", "--application", "old") == [link["id"]]

    with root.manager() as mgr:
        labels = {
            sample.labels["id"]: sample.labels["application"]
            for family in BpfmanCollector(mgr).collect()
            if family.name == "bpfman_program_xlated_bytes"
            for sample in family.samples
        }
    assert labels == {str(new): "fresh", str(old): "old"}

    with running_service(root.path) as svc:
        for key in ("bpfman.io/application", "bpfman_application"):
            for app, prog in (("old", old), ("fresh", new)):
                found = svc.stub.List(pb.ListRequest(match_metadata={key: app})).results
                assert [r.kernel_info.id for r in found] == [prog], (key, app)


# -- --runtime-dir, version -----------------------------------------------------------------
def test_runtime_dir_is_root_before_and_after_the_command(root: Root, objects: Path) -> None:
    decoy = Path(tempfile.mkdtemp(prefix="bpfman-decoy-"))
    env = {**os.environ, "BPFMAN_ROOT": str(decoy)}  # where a missed option would read

    def bpfman(*args: str | Path) -> str:
        proc = subprocess.run(
            [*BPFMAN, *map(str, args)], env=env, capture_output=True, text=True, cwd=REPO
        )
        assert proc.returncode == 0, (args, proc.stderr)
        return proc.stdout

    try:
        obj = objects / "tracepoint_counter.bpf.o"
        loaded = bpfman(
            "program", "load", "file", "-p", obj, "--programs", "tracepoint:tracepoint_counter",
            "--runtime-dir", root.path, "-o", "json",
        )  # fmt: skip
        prog = json.loads(loaded)[0]["id"]
        assert quiet(root, "list", "programs") == [prog]
        assert bpfman("--runtime-dir", root.path, "list", "programs", "-q").split() == [str(prog)]
        assert bpfman("list", "programs", "--runtime-dir", root.path, "-q").split() == [str(prog)]
        for args in (
            ["get", "program", prog, "--runtime-dir", root.path],
            ["--runtime-dir", root.path, "get", "program", prog],
        ):
            assert " Program ID:" in bpfman(*map(str, args))
        assert not (decoy / "db").exists()
    finally:
        subprocess.run(["rm", "-rf", str(decoy)], check=False)


def test_version(root: Root) -> None:
    version = root.run("version").stdout.splitlines()
    assert version[0] == root.run("-V").stdout.strip()
    assert [line.split(":")[0] for line in version[1:]] == ["Python", "Platform", "Kernel"]
    facts: Any = root.json("version")
    assert facts["version"] == version[0].split()[1]
    assert facts["kernel"] == os.uname().release
    # Nothing of bpfman's state is needed: an unprivileged user gets it too.
    proc = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *BPFMAN, "version"],
        capture_output=True, text=True, cwd=REPO, env={**os.environ, "HOME": "/"},
    )  # fmt: skip
    assert proc.returncode == 0 and proc.stdout.splitlines()[0] == version[0], proc.stderr


# -- image inspect, image verify ----------------------------------------------------------
@pytest.fixture(scope="module")
def signed_images(
    registry: Registry, image_objects: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """``signed`` and ``unsigned`` images, one signed with ``other``'s key, and the keys."""
    keys = tmp_path_factory.mktemp("parity-keys")
    good, other = write_keypair(keys, "good"), write_keypair(keys, "other")
    settings = ImageSettings((registry.host,))
    urls = {}
    for case, key in (("signed", good), ("unsigned", None), ("other", other)):
        url = urls[case] = f"{registry.host}/parity/{case}:v1"
        obj = BytecodeSources(bytecode=str(image_objects["xdp"]))
        build_native(obj, url, settings, infer_type, registry.auth)
        if key is not None:
            ref = parse_reference(url)
            sign_image(
                RegistryClient(ref, settings, registry.auth), ref, load_private_key(str(key[0]))
            )
    return {"urls": urls, "good": good[1], "other": other[1]}


def test_image_inspect_and_verify(
    root: Root, registry: Registry, signed_images: dict[str, Any]
) -> None:
    urls = signed_images["urls"]
    (root.path / "bpfman.toml").write_text(
        f'[images]\ninsecure_registries = ["{registry.host}"]\n'
        f'[signing]\npublic_key = "{signed_images["good"]}"\n'
    )
    auth = ("-r", registry.auth)
    found: Any = root.json("image", "inspect", urls["signed"], *auth)
    client = RegistryClient(
        parse_reference(urls["signed"]), ImageSettings((registry.host,)), registry.auth
    )
    assert found["digest"] == client.manifest_digest("v1")
    assert found["programs"] == {"xdp_stats": "xdp", "stats": "tc"}
    assert found["maps"] == {"xdp_stats_map": "per_cpu_array"}
    assert json.loads(found["labels"]["io.ebpf.programs"]) == found["programs"]
    assert len(found["layers"]) == 1 and found["layers"][0]["size"] > 0
    text = root.run("image", "inspect", urls["signed"], *auth).stdout
    assert " Programs:" in text and "xdp_stats=xdp" in text and "stats=tc" in text
    assert not (root.path / "images").exists()  # nothing pulled, nothing stored
    assert "requires credentials" in root.fail("image", "inspect", urls["signed"])

    def verify(*args: str) -> subprocess.CompletedProcess[str]:
        return root.run("image", "verify", *args, *auth, check=False)

    assert "signature verified" in verify(urls["signed"]).stdout
    unsigned = verify(urls["unsigned"])
    assert unsigned.returncode == 8 and "is not signed" in unsigned.stderr
    assert verify(urls["unsigned"], "--allow-unsigned").returncode == 0
    wrong = verify(urls["other"])
    assert wrong.returncode == 8 and "no signature verifies" in wrong.stderr
    assert verify(urls["other"], "--public-key", str(signed_images["other"])).returncode == 0
    assert verify(urls["other"], "--allow-unsigned").returncode == 8  # a bad one stays bad

    # The group formats its help as the others do, and has a help subcommand.
    shown = root.run("image", "--help").stdout
    assert shown.startswith("Usage: bpfman image [OPTIONS] <COMMAND>")
    assert "\n  help " in shown and "\n  inspect " in shown and "\n  verify " in shown
    assert (
        root.run("image", "help", "verify").stdout == root.run("image", "verify", "--help").stdout
    )


# -- dispatchers --------------------------------------------------------------------------
def test_dispatcher_list_and_get(direct: Root, objects: Path, pair: VethPair) -> None:
    root = direct
    assert root.json("dispatcher", "list") == []
    xdp = load_chain(root, objects, "xdp", 0, 2)
    tc = load_chain(root, objects, "tc", 0, 0)
    where = ("-i", pair.if_b, "-n", pair.netns_path_b)
    xdp_link = root.attach(xdp, "xdp", *where, "-p", 40)["id"]
    tc_link = root.attach(tc, "tc", "-d", "ingress", *where, "-p", 7, "--proceed-on", "ok", "shot")[
        "id"
    ]

    views: Any = root.json("dispatcher", "list")
    assert [(v["type"], v["iface"], v["mode"], v["revision"]) for v in views] == [
        ("xdp", pair.if_b, "direct", 1),
        ("tc-ingress", pair.if_b, "direct", 1),
    ]
    hook = net_show(pair.if_b, pair.netns_path_b)
    assert views[0]["program_id"] == hook["xdp"][0]["id"] == xdp
    assert views[1]["program_id"] == hook["tc"][0]["id"] == tc
    assert views[0]["slots"] == [
        {"slot": 0, "link_id": xdp_link, "program_id": xdp, "function": "xdp_chain",
         "priority": 40, "proceed_on": ["pass", "dispatcher_return"]},
    ]  # fmt: skip
    assert views[1]["slots"][0]["proceed_on"] == ["ok", "shot"]
    assert views[1]["slots"][0]["link_id"] == tc_link
    assert views[0]["nsid"] == os.stat(pair.netns_path_b).st_ino

    got: Any = root.json("dispatcher", "get", "tc-ingress", pair.if_b, "-n", pair.netns_path_b)
    assert got == views[1]
    text = root.run("dispatcher", "get", "xdp", pair.if_b).stdout
    assert " Mode:               direct (one per hook)" in text and f"{xdp_link}" in text
    assert [v["type"] for v in root.json("dispatcher", "list", "--type", "xdp")] == ["xdp"]
    assert root.run("dispatcher", "list").stdout.splitlines()[1].split()[:4] == [
        "xdp",
        pair.if_b,
        pair.netns_path_b,
        "direct",
    ]
    missing = root.run("dispatcher", "get", "tc-egress", pair.if_b, check=False)
    assert missing.returncode == 3 and "no tc-egress dispatcher" in missing.stderr
    root.run("detach", xdp_link)
    assert [v["type"] for v in root.json("dispatcher", "list")] == ["tc-ingress"]


@pytest.mark.vm
def test_dispatcher_revisions_and_slots_in_freplace_mode(
    root: Root, objects: Path, pair: VethPair
) -> None:
    """In the VM lane the kernel allows freplace: one dispatcher, its slots in priority order."""
    progs = [load_chain(root, objects, "xdp", slot, 2) for slot in range(3)]
    where = ("-i", pair.if_b, "-n", pair.netns_path_b)
    links = [
        root.attach(p, "xdp", *where, "-p", prio)["id"]
        for p, prio in zip(progs, (50, 10, 30), strict=True)
    ]
    got: Any = root.json("dispatcher", "get", "xdp", pair.if_b, "-n", pair.netns_path_b)
    assert got["mode"] == "freplace" and got["revision"] == 3 and got["capacity"] == 10
    assert [(s["slot"], s["program_id"], s["priority"]) for s in got["slots"]] == [
        (0, progs[1], 10), (1, progs[2], 30), (2, progs[0], 50)
    ]  # fmt: skip
    running = net_show(pair.if_b, pair.netns_path_b)["xdp"][0]["id"]
    assert got["program_id"] == running and running not in progs
    root.run("detach", links[1])
    again: Any = root.json("dispatcher", "get", "xdp", pair.if_b, "-n", pair.netns_path_b)
    assert again["revision"] == 4 and [s["program_id"] for s in again["slots"]] == [
        progs[2],
        progs[0],
    ]
    assert again["program_id"] == net_show(pair.if_b, pair.netns_path_b)["xdp"][0]["id"] != running
