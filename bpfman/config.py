"""Where bpfman keeps its state, and the optional configuration file.

The root defaults to ``/run/bpfman`` (tmpfs: kernel objects and their records
both vanish at reboot). ``BPFMAN_ROOT`` or ``--root`` moves it, so tests and
several instances never share pins or state. The configuration file is
``<root>/bpfman.toml`` if present, else ``/etc/bpfman/bpfman.toml``; every key
bpfman knows is checked by one schema (:data:`SCHEMA`) as the file is read, so
a hostile file is one line naming the key and its readers check nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from bpfman.errors import InvalidInputError

SYSTEM_CONFIG = Path("/etc/bpfman/bpfman.toml")


class Config:
    """The parsed configuration file; each table is handed to whoever owns it.

    Every known key was checked against :data:`SCHEMA` when the file was read,
    so the owners read values of the right type and need no checks of their own.
    """

    def __init__(self, path: Path | None = None, tables: dict[str, Any] | None = None) -> None:
        self.path = path
        self.tables = tables or {}

    def table(self, name: str) -> dict[str, Any]:
        value = self.tables.get(name, {})
        if not isinstance(value, dict):  # a table no schema knows (a third-party plugin's)
            raise InvalidInputError(f"{self.path}: [{name}] must be a table")
        return value


def load_config(own: Path) -> Config:
    """The root's own configuration file ``own`` if it exists, else the system's."""
    import tomllib

    for path in (own, SYSTEM_CONFIG):
        if path.is_file():
            try:
                with path.open("rb") as f:
                    tables = tomllib.load(f)
            except (OSError, tomllib.TOMLDecodeError) as exc:
                raise InvalidInputError(f"cannot read config {path}: {exc}") from exc
            except RecursionError:
                raise InvalidInputError(f"cannot read config {path}: nested too deeply") from None
            warn = _warn(path)
            validate(tables, str(path), warn)
            if "trusted_identities" in tables.get("signing", {}):
                warn(
                    "signing.trusted_identities (keyless sigstore) is accepted but not checked;"
                    " signatures are verified with signing.public_key"
                )
            return Config(path, tables)
    return Config()


class Rule:
    """What one value must be: a ``kind`` (str, int, bool, list or dict) and more.

    A list's elements follow ``item``. A dict either has known ``keys`` (any
    other key is warned about, never refused) or, without them, any names
    whose values follow ``item`` (interfaces, components). A plain class:
    every command that loads imports this module, and a dataclass compiles
    its methods at import.
    """

    __slots__ = ("choices", "expected", "item", "keys", "kind", "minimum")

    def __init__(
        self,
        kind: type,
        expected: str,
        item: Rule | None = None,
        keys: Mapping[str, Rule] | None = None,
        choices: tuple[str, ...] = (),
        minimum: int | None = None,
    ) -> None:
        self.kind, self.expected, self.item, self.keys = kind, expected, item, keys
        self.choices, self.minimum = choices, minimum


STRING = Rule(str, "a string")
BOOLEAN = Rule(bool, "true or false")
XDP_MODE = Rule(str, "one of driver, drv, skb, hw", choices=("driver", "drv", "skb", "hw"))


def _table(**keys: Rule) -> Rule:
    return Rule(dict, "a table", keys=keys)


def _named(value: Rule) -> Rule:
    return Rule(dict, "a table", item=value)


# Every key bpfman reads, and those of the reference bpfman's config files it
# accepts ([interfaces.<name>] xdp_mode, [signing], [database], [logging]).
SCHEMA = _table(
    images=_table(
        insecure_registries=Rule(list, "an array of host[:port] strings", item=STRING),
        max_layer_bytes=Rule(int, "a positive integer", minimum=1),
    ),
    signing=_table(
        verify_enabled=BOOLEAN,
        allow_unsigned=BOOLEAN,
        public_key=STRING,
        trusted_identities=Rule(
            list,
            "an array of tables",
            item=_table(certificate_identity=STRING, certificate_oidc_issuer=STRING),
        ),
    ),
    xdp=_table(mode=XDP_MODE, interfaces=_named(XDP_MODE)),
    interfaces=_named(_table(xdp_mode=XDP_MODE)),
    database=_table(
        max_retries=Rule(int, "an integer >= 0", minimum=0),
        millisec_delay=Rule(int, "an integer >= 0", minimum=0),
    ),
    logging=_table(level=STRING, format=STRING, components=_named(STRING)),
)


def validate(
    tables: Mapping[str, Any], source: str = "config", warn: Callable[[str], None] | None = None
) -> None:
    """Check a parsed configuration against :data:`SCHEMA`; one line names a wrong key.

    :param warn: told about each unknown key (ignored, as the reference does).
    """
    _check(SCHEMA, "", tables, source, warn or (lambda message: None))


def _check(rule: Rule, key: str, value: Any, source: str, warn: Callable[[str], None]) -> None:
    wrong = not isinstance(value, rule.kind) or (rule.kind is int and isinstance(value, bool))
    if not wrong and rule.choices and value not in rule.choices:
        raise InvalidInputError(f"{source}: {key} must be {rule.expected}, not {value[:40]!r}")
    if wrong or (rule.minimum is not None and value < rule.minimum):
        shown = _type_name(value) if wrong else value
        raise InvalidInputError(
            f"{source}: {key or 'the file'} must be {rule.expected}, not {shown}"
        )
    if isinstance(value, list) and rule.item is not None:
        for i, element in enumerate(value):
            _check(rule.item, f"{key}[{i}]", element, source, warn)
    if not isinstance(value, dict):
        return
    for name, inner in value.items():
        inner_key = f"{key}.{_key(name)}" if key else _key(name)
        if rule.keys is None and rule.item is not None:
            _check(rule.item, inner_key, inner, source, warn)
        elif rule.keys is not None and name in rule.keys:
            _check(rule.keys[name], inner_key, inner, source, warn)
        else:
            warn(
                f"unknown key {inner_key} ignored"
                if key
                else f"unknown table or key [{_key(name)}] ignored"
            )


def _key(name: str) -> str:
    """A key as TOML writes it: bare when it can be, else quoted (on one line)."""
    import json

    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else json.dumps(name)


def _type_name(value: Any) -> str:
    """What TOML calls the value's type."""
    names = {bool: "a boolean", int: "an integer", float: "a float", str: "a string"}
    names.update({list: "an array", dict: "a table"})
    return names.get(type(value), "a date or time")


def _warn(path: Path) -> Callable[[str], None]:
    """Log each unknown key of the file at ``path`` as a warning."""
    import logging

    log = logging.getLogger("bpfman.config")

    def warn(message: str) -> None:
        log.warning("%s: %s", path, message)

    return warn
