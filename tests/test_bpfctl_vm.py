"""bpfctl's guide examples that this host refuses, in the VM lane.

The guide loads several xdp and several tc programs on one interface, which takes
the dispatchers (freplace), and attaches kprobes; the host kernel has neither.
The same examples as tests/test_bpfctl.py (same objects, images and runner),
in-process with no service and over the service's socket; inside the emulated
guest bpfctl runs in the test's process (an interpreter start costs seconds there),
as root in both cases: the host lane covers the non-root caller.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from tests.helpers.bpftool import prog_show
from tests.helpers.net import VethPair
from tests.helpers.registry import Registry
from tests.helpers.root import Root
from tests.helpers.wait import eventually
from tests.test_bpfctl import (
    PACKETS,
    Bpfctl,
    client,
    compile_guide_objects,
    counts,
    delivered,
    fired,
    push_images,
    socket_service,
    unload,
    use_registry,
    xdp_ids,
)

pytestmark = pytest.mark.vm

OBJECTS = ("xdp_pass_kern.o", "accept-all.o", "filter.bpf.o", "xdp_pass.o", "kprobe.o", "kretprobe.o")  # fmt: skip


@pytest.fixture(scope="module")
def examples() -> Iterator[Path]:
    where = Path(tempfile.mkdtemp(prefix="bpfctl-examples-"))
    try:
        yield compile_guide_objects(where, OBJECTS)
    finally:
        shutil.rmtree(where, ignore_errors=True)


@pytest.fixture(scope="module")
def images(registry: Registry, examples: Path) -> dict[str, str]:
    return push_images(registry, examples, ("xdp_pass", "kprobe", "kretprobe"))


@pytest.fixture(params=["in-process", "socket"])
def bpfctl(request: pytest.FixtureRequest, root: Root, registry: Registry) -> Iterator[Bpfctl]:
    yield from client(request.param, root, registry)


def positions(bpfctl: Bpfctl, *progs: int) -> list[str]:
    return [bpfctl.get(prog).get("Position", "?") for prog in progs]


def test_xdp_examples_share_one_interface(
    bpfctl: Bpfctl, registry: Registry, images: dict[str, str], examples: Path, pair: VethPair
) -> None:
    """The guide's xdp loads on one interface: positions by priority, then load order;
    proceed-on drop lets the chain go on past the program that drops."""
    bpfctl.cache(registry, images["xdp_pass"])
    where = pair.netns_path_b
    obj = examples / "xdp_pass_kern.o"
    p100 = bpfctl.load(
        "load-from-file", "--path", obj, "--name", "pass",
        "xdp", "--iface", pair.if_b, "--priority", 100, netns=where,
    )  # fmt: skip
    image = bpfctl.load(
        "load-from-image", "--image-url", images["xdp_pass"],
        "xdp", "--iface", pair.if_b, "--priority", 100, netns=where,
    )  # fmt: skip
    p35 = bpfctl.load(
        "load-from-file", "--path", obj, "--name", "pass",
        "xdp", "--iface", pair.if_b, "--priority", 35, netns=where,
    )  # fmt: skip
    p30 = bpfctl.load(
        "load-from-file", "-p", obj, "-n", "xdp",
        "xdp", "-i", pair.if_b, "-p", 30, "--proceed-on", "drop", "pass", "dispatcher_return",
        netns=where,
    )  # fmt: skip
    [dispatcher] = xdp_ids(pair)
    assert prog_show(dispatcher)["name"] == "xdp_dispatcher"
    assert positions(bpfctl, p30, p35, p100, image) == ["0", "1", "2", "3"]
    assert bpfctl.get(p30)["Proceed On"] == "drop, pass, dispatcher_return"

    assert delivered(pair) == PACKETS  # p30 drops, but drop is one of its proceed-on codes
    assert counts(bpfctl.root, p30)[1] == PACKETS
    for prog in (p35, p100, image):
        assert counts(bpfctl.root, prog)[0] == PACKETS

    unload(bpfctl, p30)
    assert positions(bpfctl, p35, p100, image) == ["0", "1", "2"]
    strict = bpfctl.load(
        "load-from-file", "-p", obj, "-n", "xdp", "xdp", "-i", pair.if_b, "-p", 30, netns=where
    )
    assert delivered(pair) == 0  # with the default proceed-on, its drop is the verdict
    for prog in (strict, p35, p100, image):
        unload(bpfctl, prog)
    assert xdp_ids(pair) == [] and delivered(pair) == PACKETS


def test_tc_examples_share_one_interface(bpfctl: Bpfctl, examples: Path, pair: VethPair) -> None:
    where = pair.netns_path_b
    accept = ("-p", examples / "accept-all.o", "-n", "accept", "tc", "-d", "ingress", "-i", pair.if_b, "-p", 40)  # fmt: skip
    first = bpfctl.load("load-from-file", *accept, netns=where)
    filtering = bpfctl.load(
        "load-from-file", "--path", examples / "filter.bpf.o", "--name", "classifier",
        "tc", "--direction", "ingress", "--iface", pair.if_b, "--priority", 110, netns=where,
    )  # fmt: skip
    with_globals = bpfctl.load(
        "load-from-file", "-p", examples / "accept-all.o",
        "-g", "GLOBAL_1=01020304", "GLOBAL_2=0A0B0C0D",
        "-n", "accept", "tc", "-d", "ingress", "-i", pair.if_b, "-p", 40, netns=where,
    )  # fmt: skip
    assert positions(bpfctl, first, with_globals, filtering) == ["0", "1", "2"]
    rows = bpfctl.get(with_globals)
    assert (rows["Direction"], rows["Proceed On"]) == ("in", "ok, pipe, dispatcher_return")
    assert delivered(pair) == 0  # both accepts go on (ok), the filter's shot ends it
    assert counts(bpfctl.root, first)[0] == PACKETS
    assert counts(bpfctl.root, filtering)[0] == PACKETS
    assert counts(bpfctl.root, with_globals, "seen") == {0: 0x04030201, 1: 0x0D0C0B0A}
    unload(bpfctl, filtering)
    assert delivered(pair) == PACKETS
    for prog in (first, with_globals):
        unload(bpfctl, prog)


def test_kprobe_examples(bpfctl: Bpfctl, registry: Registry, images: dict[str, str]) -> None:
    bpfctl.cache(registry, images["kprobe"], images["kretprobe"])
    for kind, retprobe in (("kprobe", ()), ("kretprobe", ("-r",))):
        prog = bpfctl.load(
            "load-from-image", "--image-url", images[kind],
            "kprobe", "-f", "try_to_wake_up", *retprobe,
        )  # fmt: skip
        assert eventually(partial(fired, bpfctl.root, prog), timeout=30)
        rows = bpfctl.get(prog)
        assert (rows["Probe Type"], rows["Function Name"]) == (kind, "try_to_wake_up")
        unload(bpfctl, prog)
    # -r must agree with the program: an image's kprobe is no kretprobe (over the socket
    # too: the Load answer's plugin_data says what the section made of it)
    args = ("load-from-image", "--image-url", images["kprobe"], "kprobe", "-f", "try_to_wake_up", "-r")  # fmt: skip
    assert "my_kprobe is a kprobe, not a kretprobe" in bpfctl.fail(*args)
    assert bpfctl.ok("list") == " Program ID  Name  Type  Load Time\n"


def test_kprobe_get_over_the_socket_prints_what_it_prints_in_process(
    root: Root, registry: Registry, images: dict[str, str]
) -> None:
    """tests/test_bpfctl.py compares the host's types; kprobes need the VM."""
    use_registry(root, registry)
    local = Bpfctl(root)
    local.cache(registry, images["kprobe"], images["kretprobe"])
    with socket_service(root) as remote:
        progs = [
            local.load("load-from-image", "--image-url", images["kprobe"], "kprobe", "-f", "try_to_wake_up"),
            remote.load(
                "load-from-image", "--image-url", images["kretprobe"],
                "kprobe", "-f", "try_to_wake_up", "-r",
            ),
        ]  # fmt: skip
        try:
            for prog in progs:
                assert remote.ok("get", prog) == local.ok("get", prog)
            assert [local.get(p)["Probe Type"] for p in progs] == ["kprobe", "kretprobe"]
        finally:
            for prog in progs:
                local.run("unload", prog, check=False)
