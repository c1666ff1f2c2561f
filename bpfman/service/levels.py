"""The service's log levels: ``-v``, then ``RUST_LOG``, then ``[logging] level``.

bpfman-operator's DaemonSet hands the reference's daemon its log level as
``RUST_LOG`` (env_logger's syntax: ``info``, ``debug``, ``bpfman=debug,info``),
so the service reads it too. The command line wins over the environment, and
the environment over the config file, as usual: ``-v`` logs everything at debug
level whatever ``RUST_LOG`` says, and ``RUST_LOG`` overrides the file's level.

``RUST_LOG`` is a comma-separated list of directives, each ``LEVEL`` (the
default), ``TARGET=LEVEL`` or ``TARGET`` (everything from it). Levels are
Rust's: ``error``, ``warn``, ``info``, ``debug``, ``trace`` (our debug: Python
has nothing finer) and ``off``. A target names one of our loggers (``bpfman``,
``bpfman.service``, ``bpfman.csi``...), Rust's ``::`` read as ``.``; a later
directive for the same target wins. With targets but no default, the rest is
off, as env_logger has it. A directive that is none of these is ignored with
a warning, and so is the regular expression env_logger takes after a ``/``.
"""

from __future__ import annotations

import logging
from typing import NamedTuple

log = logging.getLogger("bpfman.service")

OFF = logging.CRITICAL + 1
LEVELS = {
    "trace": logging.DEBUG,
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}
RUST_LEVELS = {**LEVELS, "off": OFF}


class Levels(NamedTuple):
    """A default level (None: not given) and levels per logger name."""

    default: int | None
    targets: dict[str, int]


def rust_log(spec: str) -> Levels:
    """``RUST_LOG``'s directives as levels; what is malformed is left out (a warning each)."""
    directives, _, pattern = spec.partition("/")
    if pattern:
        log.warning("RUST_LOG: the filter /%s is not supported; logging without it", pattern)
    default: int | None = None
    targets: dict[str, int] = {}
    for directive in (d.strip() for d in directives.split(",")):
        if not directive:
            continue
        target, sep, name = (part.strip() for part in directive.partition("="))
        if not sep and target.lower() in RUST_LEVELS:
            default = RUST_LEVELS[target.lower()]
        elif target and (not sep or name.lower() in RUST_LEVELS):
            targets[target.replace("::", ".")] = RUST_LEVELS[name.lower()] if sep else logging.DEBUG
        else:
            log.warning(
                "RUST_LOG: ignoring %r (expected LEVEL, TARGET=LEVEL or TARGET; levels: %s)",
                directive,
                ", ".join(RUST_LEVELS),
            )
    return Levels(default, targets)


def config_level(level: object) -> int | None:
    """``[logging] level`` of the config file (as the reference's), if it names a level."""
    if level is None:
        return None
    if not isinstance(level, str) or level.lower() not in LEVELS:
        log.warning("config logging.level %r is not one of %s", level, ", ".join(LEVELS))
        return None
    return LEVELS[level.lower()]


def apply(verbose: bool, rust: str | None, configured: object) -> None:
    """Set the root logger's level and the targets' (``-v`` > ``RUST_LOG`` > config)."""
    if verbose:
        return  # the command line set debug for everything
    levels = rust_log(rust) if rust else Levels(None, {})
    if levels.default is None and levels.targets:
        levels = levels._replace(default=OFF)
    default = levels.default if levels.default is not None else config_level(configured)
    if default is not None:
        logging.getLogger().setLevel(default)
    for name, level in levels.targets.items():
        logging.getLogger(name).setLevel(level)
