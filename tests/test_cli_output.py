"""Output shapes: the guide's tables and blocks, and the JSON keys and types.

Kernel facts in ``get program`` are compared with bpftool's own view.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

from tests.helpers.bpftool import prog_show
from tests.helpers.net import VethPair
from tests.helpers.root import Root

TRACEPOINTS = [
    "syscalls/sys_enter_getppid",
    "syscalls/sys_exit_getppid",
    "syscalls/sys_enter_getpid",
    "syscalls/sys_exit_getpid",
]
BPFMAN_LABELS = [
    "BPF Function",
    "Program Type",
    "Path",
    "Global",
    "Metadata",
    "Map Pin Path",
    "Map Owner ID",
    "Maps Used By",
    "Links",
]
KERNEL_LABELS = [
    "Program ID",
    "BPF Function",
    "Kernel Type",
    "Loaded At",
    "Tag",
    "GPL Compatible",
    "Map IDs",
    "BTF ID",
    "Size Translated (bytes)",
    "JITted",
    "Size JITted",
    "Kernel Allocated Memory (bytes)",
    "Verified Instruction Count",
    "Run Count",
    "Run Time",
]
LINK_HEAD = ["BPF Function", "Program Type", "Program ID", "Link ID"]


def columns(header: str, names: list[str]) -> list[int]:
    return [header.index(name) for name in names]


def cells(line: str, starts: list[int]) -> list[str]:
    bounds = [*starts[1:], None]
    return [line[a:b].strip() for a, b in zip(starts, bounds, strict=True)]


def blocks(text: str) -> list[tuple[str, list[tuple[str, list[str]]]]]:
    """Parse detail blocks into (title, [(label, value lines)])."""
    out: list[tuple[str, list[tuple[str, list[str]]]]] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        underlined = i + 1 < len(lines) and set(lines[i + 1].strip()) == {"-"}
        if line.strip() and underlined:
            out.append((line.strip(), []))
            i += 2
            continue
        if not line.strip():
            i += 1
            continue
        rows = out[-1][1]
        match = re.match(r"^ ([^ :][^:]*):( +)(.*)$", line)
        if match and not line.startswith("  "):
            rows.append((match.group(1), [match.group(3)]))
        else:
            rows[-1][1].append(line.strip())
        i += 1
    return out


def load_tracepoint(root: Root, objects: Path, *extra: str) -> dict[str, Any]:
    [loaded] = root.load(
        objects / "tracepoint_counter.bpf.o", "--programs", "tracepoint:tracepoint_counter", *extra
    )
    return loaded


def test_list_programs_table_and_links_cell(root: Root, objects: Path) -> None:
    prog = load_tracepoint(root, objects, "-a", "shapes")["id"]
    other = load_tracepoint(root, objects)["id"]
    link_ids = []
    for tracepoint in TRACEPOINTS:
        link_ids.append(root.attach(prog, "tracepoint", "-t", tracepoint)["id"])

    table = root.run("list", "programs").stdout.splitlines()
    names = ["Program ID", "Application", "Type", "Function Name", "Links"]
    header = table[0]
    assert re.fullmatch(r" Program ID +Application +Type +Function Name +Links", header)
    starts = columns(header, names)
    rows = {cells(line, starts)[0]: cells(line, starts) for line in table[1:]}
    shown = ", ".join(str(i) for i in link_ids[:3])
    assert rows[str(prog)] == [
        str(prog),
        "shapes",
        "tracepoint",
        "tracepoint_counter",
        f"(4) {shown}, ...",
    ]
    assert rows[str(other)] == [str(other), "", "tracepoint", "tracepoint_counter", ""]

    listed: Any = root.json("list", "programs")
    entry = next(row for row in listed if row["id"] == prog)
    assert entry == {
        "id": prog,
        "application": "shapes",
        "type": "tracepoint",
        "function": "tracepoint_counter",
        "links": link_ids,
        "managed": True,
    }

    links = root.run("list", "links").stdout.splitlines()
    link_names = ["Program ID", "Link ID", "Application", "Type", "Function Name", "Attachment"]
    assert re.fullmatch(
        r" Program ID +Link ID +Application +Type +Function Name +Attachment", links[0]
    )
    starts = columns(links[0], link_names)
    link_rows = [cells(line, starts) for line in links[1:]]
    assert sorted(link_rows) == sorted(
        [str(prog), str(link), "shapes", "tracepoint", "tracepoint_counter", tp]
        for link, tp in zip(link_ids, TRACEPOINTS, strict=True)
    )

    # get program lists every link as "ID (attachment)", one per line.
    parsed = blocks(root.run("get", "program", prog).stdout)
    bpfman = dict(parsed[0][1])
    assert bpfman["Links"] == [
        f"{link} ({tp})" for link, tp in zip(link_ids, TRACEPOINTS, strict=True)
    ]
    assert bpfman["Metadata"] == ["bpfman.io/application=shapes"]


def test_get_program_blocks_match_the_guide_and_bpftool(root: Root, objects: Path) -> None:
    printed = root.run(
        "load",
        "file",
        "-p",
        objects / "tracepoint_counter.bpf.o",
        "--programs",
        "tracepoint:tracepoint_counter",
        "-g",
        "increment=02000000",
        "-m",
        "b=2",
        "-m",
        "a=1",
    ).stdout
    prog = int(dict(blocks(printed)[1][1])["Program ID"][0])
    text = root.run("get", "program", prog).stdout
    assert printed == text  # load prints `get program` of what it loaded
    lines = text.splitlines()
    assert lines[0] == " Bpfman State"
    assert set(lines[1]) == {"-"}
    parsed = blocks(text)
    assert [title for title, _ in parsed] == ["Bpfman State", "Kernel State"]
    bpfman, kern = dict(parsed[0][1]), dict(parsed[1][1])
    assert [label for label, _ in parsed[0][1]] == BPFMAN_LABELS
    assert [label for label, _ in parsed[1][1]] == KERNEL_LABELS
    obj = str(objects / "tracepoint_counter.bpf.o")
    map_dir = str(root.maps(prog))
    assert bpfman == {
        "BPF Function": ["tracepoint_counter"],
        "Program Type": ["tracepoint"],
        "Path": [obj],
        "Global": ["increment=02000000"],
        "Metadata": ["a=1", "b=2"],
        "Map Pin Path": [map_dir],
        "Map Owner ID": ["None"],
        "Maps Used By": [str(prog)],
        "Links": ["None"],
    }
    # Values of one block (continuation lines too) line up in one column.
    block_lines = lines[2 : lines.index(" Kernel State")]
    value_columns = {len(line) - len(line.split(":", 1)[-1].lstrip()) for line in block_lines}
    assert len(value_columns) == 1, block_lines

    info = prog_show(prog)
    loaded_at = datetime.fromtimestamp(int(info["loaded_at"])).astimezone()
    assert kern == {
        "Program ID": [str(prog)],
        "BPF Function": ["tracepoint_counter"],  # in full, from BTF (the kernel keeps 15)
        "Kernel Type": ["tracepoint"],
        "Loaded At": [loaded_at.strftime("%Y-%m-%dT%H:%M:%S%z")],
        "Tag": [info["tag"]],
        "GPL Compatible": [str(info["gpl_compatible"]).lower()],
        "Map IDs": ["[" + ", ".join(str(i) for i in info["map_ids"]) + "]"],
        "BTF ID": [str(info["btf_id"])],
        "Size Translated (bytes)": [str(info["bytes_xlated"])],
        "JITted": ["true"],
        "Size JITted": [str(info["bytes_jited"])],
        "Kernel Allocated Memory (bytes)": [str(info["bytes_memlock"])],
        "Verified Instruction Count": [kern["Verified Instruction Count"][0]],
        "Run Count": [kern["Run Count"][0]],
        "Run Time": ["0 ns"],  # never attached, never run
    }
    assert kern["Run Count"][0].split()[0] == "0"
    assert re.fullmatch(r"[0-9a-f]{16}", info["tag"])
    assert int(kern["Verified Instruction Count"][0]) > 0


def test_get_link_rows_per_type(root: Root, objects: Path, pair: VethPair) -> None:
    tp = load_tracepoint(root, objects)["id"]
    text = root.run("attach", tp, "tracepoint", "-t", TRACEPOINTS[0], "-m", "k=v").stdout
    parsed = blocks(text)
    assert [title for title, _ in parsed] == ["Bpfman State"]
    rows = parsed[0][1]
    assert [label for label, _ in rows] == [*LINK_HEAD, "Tracepoint", "Metadata"]
    values = dict(rows)
    assert values["Tracepoint"] == [TRACEPOINTS[0]]
    assert values["Metadata"] == ["k=v"]
    assert values["Program Type"] == ["tracepoint"]
    assert values["BPF Function"] == ["tracepoint_counter"]
    assert root.run("get", "link", values["Link ID"][0]).stdout == text

    tcx = root.load_id(objects / "tcx_chain.bpf.o", "--programs", "tcx:tcx_chain")
    text = root.run(
        "attach",
        tcx,
        "tcx",
        "--direction",
        "ingress",
        "--iface",
        pair.if_b,
        "--priority",
        "7",
        "--netns",
        pair.netns_path_b,
    ).stdout
    rows = blocks(text)[0][1]
    assert rows == [
        ("BPF Function", ["tcx_chain"]),
        ("Program Type", ["tcx"]),
        ("Program ID", [str(tcx)]),
        ("Link ID", rows[3][1]),
        ("Interface", [pair.if_b]),
        ("Direction", ["ingress"]),
        ("Priority", ["7"]),
        ("Position", ["0"]),
        ("Network Namespace", [pair.netns_path_b]),
        ("Metadata", ["None"]),
    ]


def test_json_keys_and_types(root: Root, objects: Path, pair: VethPair) -> None:
    loaded = load_tracepoint(root, objects, "-a", "js", "-g", "increment=01000000")
    assert set(loaded) == {"id", "bpfman", "kernel"}
    assert isinstance(loaded["id"], int)
    b = loaded["bpfman"]
    assert set(b) >= {
        "function",
        "type",
        "source",
        "globals",
        "metadata",
        "map_pin_path",
        "map_owner_id",
        "maps_used_by",
        "links",
    }
    assert b["function"] == "tracepoint_counter" and b["type"] == "tracepoint"
    assert b["globals"] == {"increment": "01000000"}
    assert b["metadata"] == {"bpfman.io/application": "js"}
    assert b["maps_used_by"] == [loaded["id"]] and b["links"] == []
    assert b["map_owner_id"] is None
    k = loaded["kernel"]
    assert k["id"] == loaded["id"] and k["type"] == "tracepoint"
    assert isinstance(k["map_ids"], list) and all(isinstance(i, int) for i in k["map_ids"])
    assert isinstance(k["gpl_compatible"], bool) and isinstance(k["jited"], bool)
    for key in ("btf_id", "bytes_xlated", "bytes_jited", "bytes_memlock", "verified_insns"):
        assert isinstance(k[key], int), key
    datetime.fromisoformat(k["loaded_at"])

    # An explicit application in -m (under the reference's older key too) wins over -a.
    explicit = load_tracepoint(root, objects, "-a", "js", "-m", "bpfman_application=mine")
    assert explicit["bpfman"]["metadata"] == {"bpfman_application": "mine"}

    link = root.attach(loaded["id"], "tracepoint", "-t", TRACEPOINTS[0])
    assert set(link) == {
        "id",
        "program_id",
        "type",
        "function",
        "application",
        "attachment",
        "position",
        "detached",
        "params",
        "metadata",
    }
    assert isinstance(link["id"], int) and link["program_id"] == loaded["id"]
    assert link["params"] == {"tracepoint": TRACEPOINTS[0]}
    # The program's application is copied into its links' metadata, as the reference does.
    assert link["position"] is None and link["metadata"] == {"bpfman.io/application": "js"}
    assert link["detached"] is None
    assert root.json("get", "link", link["id"]) == link
    assert root.json("list", "links") == [link]

    tcx = root.load_id(objects / "tcx_chain.bpf.o", "--programs", "tcx:tcx_chain")
    tcx_link = root.attach(
        tcx, "tcx", "-d", "egress", "-i", pair.if_a, "-p", "3", "-n", pair.netns_path_a
    )
    assert tcx_link["position"] == 0
    assert tcx_link["params"]["priority"] == 3
    assert tcx_link["params"]["direction"] == "egress"
    assert tcx_link["params"]["iface"] == pair.if_a
    assert tcx_link["params"]["netns"] == pair.netns_path_a

    detail: Any = root.json("get", "program", loaded["id"])
    assert isinstance(detail, dict) and detail["bpfman"]["links"] == [link]


def test_empty_lists_on_a_fresh_root(root: Root) -> None:
    """Nothing loaded yet (no state, no bpffs): headers only, and [] in JSON."""
    assert root.run("list", "programs").stdout.splitlines() == [
        " Program ID  Application  Type  Function Name  Links"
    ]
    assert root.run("list", "links").stdout.splitlines() == [
        " Program ID  Link ID  Application  Type  Function Name  Attachment"
    ]
    assert root.json("list", "programs") == []
    assert root.json("list", "links") == []
