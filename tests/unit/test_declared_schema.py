"""The declaration's TOML: what save writes reads back the same; bad values are named."""

from __future__ import annotations

from pathlib import Path

import pytest

from bpfman.core.model import ProgramRecord
from bpfman.declare import Declaration, FileSource, ImageSource, LinkEntry, ProgramEntry, parse
from bpfman.declare.save import entry_names
from bpfman.errors import InvalidInputError


def test_what_is_written_reads_back_the_same() -> None:
    written = Declaration(
        [
            ProgramEntry(
                "demo-tcx_chain", "tcx", "tcx_chain", FileSource("/srv/x.o", "ab" * 32),
                globals={"prog_slot": "01000000"},
                metadata={"bpfman_application": "demo", "bpfman.io/uuid": "u-1"},
            ),
            ProgramEntry(
                "tracer", "fentry", "trace", ImageSource("quay.io/a/b:v1", "sha256:" + "c" * 64),
                attach_func="do_sys_open", map_owner="demo-tcx_chain",
            ),
        ],
        [
            LinkEntry(
                "demo-tcx_chain",
                {"iface": "eth0", "priority": 5, "proceed_on": ["pass"], "direct": True},
                {"owner": "acme"},
                type="tcx",
            )
        ],
    )  # fmt: skip
    text = written.dumps()
    assert parse(text) == written
    assert "\nversion = 1\n" in text and '"bpfman.io/uuid" = "u-1"' in text


def test_relative_files_are_relative_to_the_declaration(tmp_path: Path) -> None:
    text = '[[program]]\nname = "a"\ntype = "xdp"\nfunction = "f"\nfile = "../bpf/a.o"\n'
    [entry] = parse(text, str(tmp_path / "programs.d" / "a.toml")).programs
    assert entry.source == FileSource(str(tmp_path / "bpf" / "a.o"))


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[[program]]\nname = 3\n', "decl.toml: program #1: name must be a non-empty string, got an integer (3)"),
        ('[[program]]\nname = "a"\ntype = "xdp"\nfunction = "f"\n',
         'decl.toml: program "a": give exactly one of file and image'),
        ('[[program]]\nname = "a"\ntype = "xdp"\nfunction = "f"\nfile = "x"\nsha256 = "zz"\n',
         'decl.toml: program "a": sha256 must be 64 hex digits'),
        ('[[program]]\nname = "a"\ntype = "xdp"\nfunction = "f"\nfile = "x"\nglobals = { g = "0x01" }\n',
         'decl.toml: program "a": globals.g: invalid global'),
        ('[[program]]\nname = "a"\ntype = "xdp"\nfunction = "f"\nfile = "x"\nmetadata = { k = 1 }\n',
         'decl.toml: program "a": metadata.k must be a string, got an integer (1)'),
        ('[[link]]\nprogram = "a"\noptions = { priority = 1.5 }\n',
         'decl.toml: link #1 (program "a"): options.priority must be a string, an integer'),
        ("program = 1\n", "decl.toml: program must be an array of tables"),
        ("version = 2\n", "decl.toml: version must be 1, got an integer (2)"),
        ("rules = []\n", "decl.toml: unknown key 'rules'"),
    ],
)  # fmt: skip
def test_a_bad_value_is_named_by_file_entry_and_key(toml: str, message: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        parse(toml, "decl.toml")
    assert str(caught.value).startswith(message), str(caught.value)


def record(prog_id: int, name: str, **metadata: str) -> ProgramRecord:
    return ProgramRecord(prog_id, name, "tcx", 3, {}, "", "", metadata=metadata)


def test_entry_names_follow_the_rule_and_are_unique() -> None:
    records = [
        record(12, "count", bpfman_application="demo"),
        record(7, "count"),
        record(30, "count", bpfman_application="demo"),
        record(31, "count-2"),
        record(40, "x", **{"bpfman.io/ProgramName": "web"}),
    ]
    assert entry_names(records) == {
        7: "count",
        12: "demo-count",
        30: "demo-count-2",
        31: "count-2",
        40: "web",
    }
