"""Declared state: save what bpfman runs as TOML, and apply such files to a host.

The way nftables users keep a ruleset (``nft list ruleset > /etc/nftables.conf``,
restored at boot by ``nftables.service``): ``bpfman system save`` writes a
declaration, ``bpfman system apply`` makes the host match it, and
``bpfman-restore.service`` applies ``/etc/bpfman/programs.d`` at boot. Built on
the public operations of :class:`~bpfman.core.manager.Bpfman` only, as
:class:`.host.Manager` names them; the schema and the matching rule are in
``docs/declarations.md``.
"""

from __future__ import annotations

from .apply import Applied, apply
from .plan import Action, Plan
from .save import save
from .schema import (
    Declaration,
    FileSource,
    ImageSource,
    LinkEntry,
    ProgramEntry,
    parse,
    read,
)

__all__ = [
    "Action",
    "Applied",
    "Declaration",
    "FileSource",
    "ImageSource",
    "LinkEntry",
    "Plan",
    "ProgramEntry",
    "apply",
    "parse",
    "read",
    "save",
]
