"""Where bpfman keeps its state, and the optional configuration file.

The root defaults to ``/run/bpfman`` (tmpfs: kernel objects and their records
both vanish at reboot). ``BPFMAN_ROOT`` or ``--root`` moves it, so tests and
several instances never share pins or state. The configuration file is
``<root>/bpfman.toml`` if present, else ``/etc/bpfman/bpfman.toml``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from bpfman.core.errors import InvalidInputError, PermissionDeniedError

DEFAULT_ROOT = Path("/run/bpfman")
ROOT_ENV = "BPFMAN_ROOT"
SYSTEM_CONFIG = Path("/etc/bpfman/bpfman.toml")


def default_root() -> Path:
    return Path(os.environ.get(ROOT_ENV) or DEFAULT_ROOT)


class Config:
    """The parsed configuration file; each table is handed to whoever owns it."""

    def __init__(self, path: Path | None = None, tables: dict[str, Any] | None = None) -> None:
        self.path = path
        self.tables = tables or {}

    def table(self, name: str) -> dict[str, Any]:
        value = self.tables.get(name, {})
        if not isinstance(value, dict):
            raise InvalidInputError(f"{self.path}: [{name}] must be a table")
        return value


def load_config(root: Path) -> Config:
    import tomllib

    for path in (root / "bpfman.toml", SYSTEM_CONFIG):
        if path.is_file():
            try:
                with path.open("rb") as f:
                    tables = tomllib.load(f)
            except (OSError, tomllib.TOMLDecodeError) as exc:
                raise InvalidInputError(f"cannot read config {path}: {exc}") from exc
            warn_unknown(path, tables)
            return Config(path, tables)
    return Config()


# Keys bpfman reads, and those of the reference bpfman's config files it accepts
# ([interfaces.<name>] xdp_mode, [signing], [database], [logging]). "*" stands for
# any name (an interface) whose value is a table with the keys given.
KNOWN_KEYS: dict[str, Any] = {
    "images": {"insecure_registries", "max_layer_bytes"},
    "signing": {"verify_enabled", "allow_unsigned", "public_key", "trusted_identities"},
    "xdp": {"mode", "interfaces"},
    "interfaces": {"*": {"xdp_mode"}},
    "database": {"max_retries", "millisec_delay"},
    "logging": {"level", "format", "components"},
}


def warn_unknown(path: Path, tables: dict[str, Any]) -> None:
    """Log a warning for each key bpfman does not know; never fail on one."""
    import logging

    log = logging.getLogger("bpfman.config")
    for name, value in tables.items():
        known = KNOWN_KEYS.get(name)
        if known is None:
            log.warning("%s: unknown table or key [%s] ignored", path, name)
            continue
        if not isinstance(value, dict):
            continue  # the table's owner reports a wrong shape
        for key, inner in value.items():
            if "*" in known and isinstance(known, dict):
                extra = set(inner) - known["*"] if isinstance(inner, dict) else set()
                for sub in sorted(extra):
                    log.warning("%s: unknown key %s.%s.%s ignored", path, name, key, sub)
            elif key not in known:
                log.warning("%s: unknown key %s.%s ignored", path, name, key)
    if "trusted_identities" in tables.get("signing", {}):
        log.warning(
            "%s: signing.trusted_identities (keyless sigstore) is accepted but not checked;"
            " signatures are verified with signing.public_key",
            path,
        )


_CAP_SYS_ADMIN = 21
_CAP_BPF = 39


def require_privilege() -> None:
    """Refuse, saying why, when this process cannot manage BPF objects."""
    reason = _missing_privilege()
    if reason:
        raise PermissionDeniedError(reason)


def _missing_privilege() -> str | None:
    try:
        with open("/proc/self/status") as f:
            caps = next(int(line.split()[1], 16) for line in f if line.startswith("CapEff:"))
    except (OSError, StopIteration, ValueError):
        return None if os.geteuid() == 0 else "must be run as root"
    if caps & (1 << _CAP_SYS_ADMIN):
        return None
    if os.geteuid() != 0:
        return "must be run as root (or with CAP_SYS_ADMIN and CAP_BPF)"
    if not caps & (1 << _CAP_BPF):
        return "missing capability CAP_BPF (and CAP_SYS_ADMIN)"
    return "missing capability CAP_SYS_ADMIN"
