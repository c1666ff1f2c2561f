"""A hostile ``bpfman.toml``: every known key is checked by one schema, with one line.

Wrong types, deep nesting and odd key names are refused with a line naming
the key; unknown keys only warn, as the reference bpfman's files need.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from bpfman.config import SCHEMA, Rule, load_config
from bpfman.errors import InvalidInputError
from bpfman.images import ImageSettings
from tests.helpers.root import Root, load_counter

INVALID_INPUT = 2


def known_keys(rule: Rule = SCHEMA, prefix: str = "") -> list[tuple[str, Rule]]:
    """Every key of the schema, dotted, with its rule ("x" stands for any name)."""
    found = []
    if rule.keys is not None:
        for name, inner in rule.keys.items():
            key = f"{prefix}.{name}" if prefix else name
            found += [(key, inner), *known_keys(inner, key)]
    elif rule.kind is dict and rule.item is not None:
        found += [(f"{prefix}.x", rule.item), *known_keys(rule.item, f"{prefix}.x")]
    return found


def wrong_value(rule: Rule) -> tuple[str, str]:
    """A TOML value of another type than ``rule`` wants, and the type's name."""
    if rule.kind is str:
        return "1", "an integer"
    if rule.kind is dict:
        return "[1, 2]", "an array"
    return '"yes"', "a string"


def toml(key: str, value: str) -> str:
    """``key = value`` under the key's table (dotted keys make the tables)."""
    table, _, name = key.rpartition(".")
    return f"[{table}]\n{name} = {value}\n" if table else f"{name} = {value}\n"


@pytest.mark.parametrize(("key", "rule"), known_keys(), ids=[k for k, _ in known_keys()])
def test_every_known_key_of_the_wrong_type_is_named(tmp_path: Path, key: str, rule: Rule) -> None:
    value, kind = wrong_value(rule)
    (tmp_path / "bpfman.toml").write_text(toml(key, value))
    with pytest.raises(InvalidInputError) as caught:
        load_config(tmp_path / "bpfman.toml")
    assert str(caught.value) == f"{tmp_path}/bpfman.toml: {key} must be {rule.expected}, not {kind}"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[xdp.interfaces]\natk0 = {a=1}\n", "xdp.interfaces.atk0 must be one of driver, drv, skb, hw, not a table"),
        ("[xdp]\ninterfaces = [1,2]\n", "xdp.interfaces must be a table, not an array"),
        ('[xdp]\nmode = "fast"\n', "xdp.mode must be one of driver, drv, skb, hw, not 'fast'"),
        ("xdp = 1\n", "xdp must be a table, not an integer"),
        ("[images]\nmax_layer_bytes = 0\n", "images.max_layer_bytes must be a positive integer, not 0"),
        ("[images]\nmax_layer_bytes = true\n", "images.max_layer_bytes must be a positive integer, not a boolean"),
        ('[images]\ninsecure_registries = ["a", 2]\n', "images.insecure_registries[1] must be a string, not an integer"),
        ("[database]\nmax_retries = -1\n", "database.max_retries must be an integer >= 0, not -1"),
        ('[logging.components]\n"a\\nb" = 1\n', 'logging.components."a\\nb" must be a string, not an integer'),
        ("[[signing.trusted_identities]]\ncertificate_identity = 1\n",
         "signing.trusted_identities[0].certificate_identity must be a string, not an integer"),
        ("x = " + "[" * 5000 + "]" * 5000 + "\n", "cannot read config {file}: nested too deeply"),
        ("[images]\ninsecure_registries = " + "[" * 5000 + "]" * 5000 + "\n",
         "cannot read config {file}: nested too deeply"),
        ('[interfaces.eth0]\nxdp_mode = ["drv"]\n',
         "interfaces.eth0.xdp_mode must be one of driver, drv, skb, hw, not an array"),
    ],
    ids=["inline table", "array for table", "mode", "table", "zero", "boolean", "element",
         "negative", "odd key", "identity", "deep", "deep known", "reference mode"],
)  # fmt: skip
def test_hostile_values_are_one_line_naming_the_key(
    tmp_path: Path, text: str, message: str
) -> None:
    file = tmp_path / "bpfman.toml"
    file.write_text(text)
    with pytest.raises(InvalidInputError) as caught:
        load_config(tmp_path / "bpfman.toml")
    expected = message.format(file=file)
    assert str(caught.value) in (expected, f"{file}: {expected}")
    assert "\n" not in str(caught.value)


def test_unknown_keys_only_warn_and_good_values_load(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "bpfman.toml").write_text(
        '[xdp]\nmode = "skb"\ncolour = 1\n[xdp.interfaces]\neth0 = "drv"\n'
        "[images]\nmax_layer_bytes = 1024\n[telemetry]\ndepth = [[[1]]]\n"
    )
    with caplog.at_level(logging.WARNING, logger="bpfman.config"):
        config = load_config(tmp_path / "bpfman.toml")
    warnings = sorted(r.getMessage().split(": ", 1)[1] for r in caplog.records)
    assert warnings == [
        "unknown key xdp.colour ignored",
        "unknown table or key [telemetry] ignored",
    ]
    assert config.table("xdp")["interfaces"] == {"eth0": "drv"}
    assert ImageSettings.from_mapping(config.tables).max_layer_bytes == 1024


@pytest.mark.parametrize(
    "text",
    [
        "[xdp.interfaces]\natk0 = {a=1}\n",
        "[xdp]\ninterfaces = [1,2]\n",
        "x = " + "[" * 5000 + "]" * 5000 + "\n",
        "[logging]\nlevel = 3\n",
    ],
    ids=["inline table", "array for table", "deep nesting", "level"],
)
def test_the_cli_refuses_a_hostile_config_with_one_line(
    root: Root, objects: Path, text: str
) -> None:
    prog = load_counter(root, objects)  # load file reads no configuration
    (root.path / "bpfman.toml").write_text(text)
    proc = root.run("attach", prog, "tracepoint", "-t", "syscalls/sys_enter_getppid", check=False)
    assert proc.returncode == INVALID_INPUT
    line = root.fail("attach", prog, "tracepoint", "-t", "syscalls/sys_enter_getppid")
    assert str(root.path / "bpfman.toml") in line and "internal error" not in line, line
    assert root.json("list", "links") == []


def test_images_settings_use_the_same_schema() -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"signing": {"verify_enabled": "yes"}}, "signing.verify_enabled must be true or false"),
        ({"images": []}, "images must be a table"),
        ({"signing": {"public_key": 1}}, "signing.public_key must be a string"),
    ]
    for mapping, message in cases:
        with pytest.raises(InvalidInputError, match=message):
            ImageSettings.from_mapping(mapping)
