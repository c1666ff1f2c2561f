"""One contract test over every registered program type, built-in or not.

Each type must: be served by a handler; be registered under an entry point named
after it that points at the plugin declaring it; have an options class whose
``from_mapping`` and ``to_record`` round-trip and whose every option is declared
once, with its help in the class docstring and in the ``attach`` subcommand of
its own name; describe a recorded link as text; own its ELF section prefixes
alone; and have a row in the user guide's type table (docs/user-guide.md). A type added without a sample
below fails here, which is the point: a new type says how its records look.

The demo plugin (the plugin guide's example, docs/plugins.md) is reached through the library here,
through the CLI in test_cli_plugins.py and through gRPC in test_service_plugins.py.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import click
import pytest

import bpfman
from bpfman.cli.attach import attach_command
from bpfman.core.contract import AttachParams, LinkView, ProgramType, TypeHandler
from bpfman.core.fields import declared
from bpfman.core.manager import Bpfman
from bpfman.core.plugins import Plugins, get_plugin_manager
from bpfman.discovery import ENTRY_POINT_GROUP
from bpfman.errors import InvalidInputError
from tests.helpers import demo
from tests.helpers.bpftool import map_values
from tests.helpers.raises import refused
from tests.helpers.root import Root

GUIDE = Path(__file__).resolve().parent.parent / "docs" / "user-guide.md"

# Per type: attach options as a library caller passes them, and a link record as
# the type's attach returns it (what `list`/`get` later describe).
SAMPLES: dict[str, tuple[Mapping[str, object], Mapping[str, Any]]] = {
    "tracepoint": (
        {"tracepoint": "syscalls/sys_enter_getppid"},
        {"tracepoint": "syscalls/sys_enter_getppid"},
    ),
    "kprobe": (
        {"fn_name": "do_unlinkat", "offset": 4},
        {"fn_name": "do_unlinkat", "offset": 4, "container_pid": None, "retprobe": False},
    ),
    "uprobe": (
        {"target": "libc", "fn_name": "malloc", "pid": 1},
        {"target": "libc", "fn_name": "malloc", "offset": 0, "pid": 1, "container_pid": None},
    ),
    "fentry": ({}, {"fn_name": "do_unlinkat"}),
    "fexit": ({}, {"fn_name": "do_unlinkat"}),
    "tcx": (
        {"direction": "ingress", "iface": "eth0", "priority": 50, "netns": "/run/netns/a"},
        {"direction": "ingress", "iface": "eth0", "priority": 50, "netns": "/run/netns/a"},
    ),
    "xdp": (
        {"iface": "eth0", "priority": 50, "proceed_on": ["pass", "drop"]},
        {"iface": "eth0", "priority": 50, "proceed_on": ["pass", "drop"], "netns": None},
    ),
    "tc": (
        {"direction": "egress", "iface": "eth0", "priority": 50},
        {"direction": "egress", "iface": "eth0", "priority": 50, "proceed_on": []},
    ),
    "raw_tracepoint": ({"tracepoint": "sched_switch"}, {"tracepoint": "sched_switch"}),
    "tp_btf": ({}, {"tracepoint": "sched_switch"}),
    "lsm": ({}, {"hook": "file_open"}),
    "perf_event": (
        {"event": "cpu-clock", "frequency": 99},
        {
            "event": "cpu-clock",
            "frequency": 99,
            "period": None,
            "cpu": None,
            "pid": None,
            "cpus": [0, 1, 2, 3],
            "pins": "/run/bpfman/fs/perf_event/1",
        },
    ),
    "cgroup": (
        {"cgroup_path": "/sys/fs/cgroup/app", "priority": 10},
        {"cgroup_path": "/sys/fs/cgroup/app", "priority": 10, "attach_type": "cgroup_inet_egress"},
    ),
    "netkit": (
        {"direction": "peer", "iface": "nk0", "priority": 5},
        {"direction": "peer", "iface": "nk0", "priority": 5, "netns": None},
    ),
}

PLUGINS: Plugins = get_plugin_manager()
TYPES: dict[str, ProgramType] = PLUGINS.types


def test_the_samples_cover_every_registered_type() -> None:
    assert sorted(TYPES) == sorted(SAMPLES), "add a sample for each new type"


@pytest.mark.parametrize("name", sorted(TYPES))
def test_type_contract(name: str) -> None:
    ptype = TYPES[name]
    handler = ptype.handler
    assert isinstance(handler, TypeHandler)
    assert ptype.name == name

    # Registered under an entry point of its own name, pointing at the declaring plugin.
    found = {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}
    assert found.get(name) == ptype.plugin

    # Options: a frozen dataclass of this type whose mapping form round-trips.
    params_cls = ptype.params
    assert issubclass(params_cls, AttachParams) and params_cls.type_name == name
    assert dataclasses.is_dataclass(params_cls)
    options, recorded = SAMPLES[name]
    params = params_cls.from_mapping(options)
    settable = {
        f.name for f in dataclasses.fields(params_cls) if f.init and not f.metadata.get("resolved")
    }
    record = {k: v for k, v in params.to_record().items() if k in settable}
    assert params_cls.from_mapping(record) == params
    with pytest.raises(InvalidInputError, match="unknown option"):
        params_cls.from_mapping({**options, "no_such_option": 1})

    # The attach subcommand carries the type's name and renders its help; it and the
    # class docstring show each declared option's help, and the library exports the class.
    command = attach_command(ptype)
    assert isinstance(command, click.Command) and command.name == name
    assert command.help == ptype.attach_help != ""
    help_text = command.get_help(click.Context(command, info_name=name))
    assert "--metadata" in help_text
    for option in declared(params_cls):
        assert option.spec is not None
        for line in option.spec.help.splitlines():
            assert line.strip() in help_text and line.strip() in (params_cls.__doc__ or "")
    assert getattr(bpfman, params_cls.__name__) is params_cls

    # A recorded link describes itself as plain text.
    view = handler.describe(recorded)
    assert isinstance(view, LinkView) and view.attachment
    assert view.rows and all(isinstance(a, str) and isinstance(b, str) for a, b in view.rows)

    # Section prefixes: each implies this type and no other.
    for prefix in ptype.section_prefixes:
        assert ptype.matches_section(f"{prefix}/x")
        inferred = PLUGINS.infer_type(f"{prefix}/x")
        assert inferred is not None and inferred.name == name

    # The user guide's type table has a row naming it.
    table = [line for line in GUIDE.read_text().splitlines() if line.startswith("| `")]
    assert any(f"`{name}`" in line.split("|")[1] for line in table), f"{GUIDE}: no row for {name}"


def test_the_demo_plugin_through_the_library(root: Root, objects: Path) -> None:
    """The guide's example: its params class and its mapping form, each checked alike."""
    module = demo.module()
    with Bpfman(root.path, get_plugin_manager(extra=[module])) as manager:
        [prog] = manager.load_file(
            objects / "tracepoint_counter.bpf.o",
            ["demo:tracepoint_counter"],
            globals={"target_pid": os.getpid().to_bytes(4, "little")},
        )
        counts = f"{prog.map_pin_path}/counts"
        first = manager.attach(prog.id, module.DemoParams("syscalls/sys_enter_getppid"))
        for _ in range(3):
            os.getppid()
        assert map_values(counts)[0] == 3
        manager.detach(first.id)
        second = manager.attach(prog.id, {"tracepoint": "syscalls/sys_enter_getppid"})
        assert first.params == second.params == {"tracepoint": "syscalls/sys_enter_getppid"}
        for _ in range(2):
            os.getppid()
        assert map_values(counts)[0] == 5
        with refused("demo: unknown option 'where' (options: tracepoint)"):
            manager.attach(prog.id, {"where": "x"})
        with refused("demo: tracepoint contains a NUL byte"):
            manager.attach(prog.id, module.DemoParams("a\0b"))
        assert "Required: The tracepoint to attach to" in (module.DemoParams.__doc__ or "")
        manager.unload(prog.id)
