"""Map sharing with ``--map-owner-id``: the same kernel maps, unload in any order."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tests.helpers.bpftool import find_map_id, map_values, prog_ids
from tests.helpers.root import Root, le32, load_counter
from tests.helpers.wait import eventually

TRACEPOINT = "syscalls/sys_enter_getppid"
CALLS = 15


def load(root: Root, objects: Path, *extra: str | int) -> int:
    """The counter, counting this process's calls only."""
    return load_counter(root, objects, "-g", f"target_pid={le32(os.getpid())}", *extra)


def bpfman_state(root: Root, prog_id: int) -> dict[str, list[str]]:
    """The Bpfman State block of ``get program`` as label -> value lines."""
    rows: dict[str, list[str]] = {}
    label = ""
    for line in root.run("get", "program", prog_id).stdout.splitlines():
        if line.strip() == "Kernel State":
            break
        if line.startswith(" ") and ":" in line and not line.startswith("   "):
            label, value = line.split(":", 1)
            label = label.strip()
            rows[label] = [value.strip()]
        elif line.startswith("   ") and label:
            rows[label].append(line.strip())
    return rows


def test_map_owner_shares_kernel_maps_and_unloads_in_any_order(root: Root, objects: Path) -> None:
    owner = load(root, objects)
    user = load(root, objects, "--map-owner-id", owner)
    assert find_map_id(owner, "counts") == find_map_id(user, "counts")

    owner_dir = str(root.maps(owner))
    owner_state = bpfman_state(root, owner)
    user_state = bpfman_state(root, user)
    assert owner_state["Map Owner ID"] == ["None"]
    assert owner_state["Map Pin Path"] == [owner_dir]
    assert owner_state["Maps Used By"] == [f"{owner}, {user}"]
    assert user_state["Map Owner ID"] == [str(owner)]
    assert user_state["Map Pin Path"] == [owner_dir]
    assert user_state["Maps Used By"] == [f"{owner}, {user}"]
    assert not root.maps(user).exists()

    owner_json: Any = root.json("get", "program", owner)
    user_json: Any = root.json("get", "program", user)
    assert user_json["bpfman"]["map_owner_id"] == owner
    assert owner_json["bpfman"]["map_owner_id"] is None
    assert user_json["bpfman"]["maps_used_by"] == [owner, user]

    # Both programs count into the one map.
    root.run("attach", owner, "tracepoint", "-t", TRACEPOINT)
    root.run("attach", user, "tracepoint", "-t", TRACEPOINT)
    for _ in range(CALLS):
        os.getppid()
    counts = f"{owner_dir}/counts"
    assert map_values(counts) == {0: 2 * CALLS}

    # The owner goes first: the user keeps running on the still-pinned maps.
    root.run("unload", owner)
    assert eventually(lambda: owner not in prog_ids())
    assert Path(counts).exists()
    assert bpfman_state(root, user)["Maps Used By"] == [str(user)]
    for _ in range(CALLS):
        os.getppid()
    assert map_values(counts) == {0: 3 * CALLS}

    root.run("unload", user)
    assert eventually(lambda: user not in prog_ids())
    assert not Path(owner_dir).exists()
    assert list((root.path / "fs" / "maps").iterdir()) == []


def test_batch_load_shares_maps_between_its_programs(root: Root, objects: Path) -> None:
    """Programs of one load command share the object's maps; the first one owns them."""
    loaded = root.load(
        objects / "uprobe_counter.bpf.o",
        "--programs",
        "uprobe:uprobe_counter",
        "uprobe:uretprobe_counter",
    )
    first, second = (p["id"] for p in loaded)
    assert find_map_id(first, "counts") == find_map_id(second, "counts")
    assert loaded[0]["bpfman"]["map_owner_id"] is None
    assert loaded[1]["bpfman"]["map_owner_id"] == first
    assert loaded[1]["bpfman"]["map_pin_path"] == str(root.maps(first))
    root.run("unload", first)
    assert (root.maps(first) / "counts").exists()
    root.run("unload", second)
    assert not root.maps(first).exists()


def test_map_owner_must_be_a_loaded_bpfman_program(root: Root, objects: Path) -> None:
    owner = load(root, objects)
    root.run("unload", owner)
    message = root.fail(
        "load",
        "file",
        "-p",
        objects / "tracepoint_counter.bpf.o",
        "--programs",
        "tracepoint:tracepoint_counter",
        "--map-owner-id",
        owner,
    )
    assert str(owner) in message
    assert root.json("list", "programs") == []
