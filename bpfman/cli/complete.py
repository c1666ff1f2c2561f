"""Shell completion: the candidates for the word under the cursor.

The scripts ``bpfman completions`` writes run ``bpfman`` with ``_BPFMAN_COMPLETE``
set on every Tab. That run resolves the line as click does, without running any
command (so there is no :class:`~bpfman.cli.app.App`), and must be quick and
harmless: it imports neither libbpf, gRPC nor the OCI stack, reads bpfman's state
as ``list`` does (a reader takes no lock) but never recovers, mounts or creates
anything, and prints candidates or nothing, never an error.

What a parameter completes to is decided here from its name, for every command
including the plugins' (an option named ``iface`` completes interface names
wherever it is), so the commands carry no completion code; choices come from click.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, redirect_stderr
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from click.shell_completion import (
    BashComplete,
    CompletionItem,
    FishComplete,
    ShellComplete,
    ZshComplete,
    _resolve_context,
    _resolve_incomplete,
)

from .options import MultiValueOption

if TYPE_CHECKING:
    from ..core.model import LinkRecord, ProgramRecord
    from ..core.plugins import Plugins

COMPLETE_VAR = "_BPFMAN_COMPLETE"
_PLUGINS = "bpfman.complete.plugins"  # ctx.meta key: shared by the line's contexts
NETNS_DIR = "/var/run/netns"

Completer = Callable[[click.Context, str], list[CompletionItem]]


def _plain(values: Iterable[str], incomplete: str) -> list[CompletionItem]:
    return [CompletionItem(v) for v in dict.fromkeys(values) if v.startswith(incomplete)]


def _files(ctx: click.Context, incomplete: str) -> list[CompletionItem]:
    return [CompletionItem(incomplete, type="file")]


def _dirs(ctx: click.Context, incomplete: str) -> list[CompletionItem]:
    return [CompletionItem(incomplete, type="dir")]


# -- bpfman's state -----------------------------------------------------------------
def _root(ctx: click.Context | None) -> Path:
    """The root the line names (``--root``, or ``BPFMAN_ROOT`` through it), else the default."""
    from ..core.root import default_root

    while ctx is not None:
        if ctx.params.get("root"):
            return Path(ctx.params["root"])
        ctx = ctx.parent
    return Path(default_root())


def _records(ctx: click.Context, links: bool) -> list[Any]:
    """The program (or link) records, from a read-only snapshot.

    Unlike ``list`` this never recovers after a crashed writer: completion
    changes nothing. A root that cannot be read (another user's) raises, and
    :func:`complete` turns that into no candidates.
    """
    from ..core.bpffs import Layout
    from ..core.state import Store
    from ..core.trust import trusted_root

    store = Store(Layout(Path(trusted_root(_root(ctx)))).db)
    if not store.exists():
        return []
    try:
        with store.read() as txn:
            return txn.links() if links else txn.programs()
    finally:
        store.close()


def _ids(
    records: list[Any], incomplete: str, describe: Callable[[Any], str]
) -> list[CompletionItem]:
    found = [r for r in records if str(r.id).startswith(incomplete)]
    return [CompletionItem(str(r.id), help=describe(r)) for r in found]


def _program_ids(ctx: click.Context, incomplete: str) -> list[CompletionItem]:
    def describe(program: ProgramRecord) -> str:
        return f"{program.type} {program.name}"

    return _ids(_records(ctx, links=False), incomplete, describe)


def _link_ids(ctx: click.Context, incomplete: str) -> list[CompletionItem]:
    def describe(link: LinkRecord) -> str:
        return f"{link.type} {link.attachment} (program {link.program_id})"

    return _ids(_records(ctx, links=True), incomplete, describe)


# -- type names -----------------------------------------------------------------------
def plugins(ctx: click.Context) -> Plugins:
    """The installed plugins, discovered once per line, without the root's cache
    (a command writes it, completion writes nothing)."""
    from ..core.plugins import get_plugin_manager

    found: Plugins | None = ctx.meta.get(_PLUGINS)
    if found is None:
        found = ctx.meta[_PLUGINS] = get_plugin_manager()
    return found


def _type_names() -> list[str]:
    """Every installed type: plugins' entry points are named after their types."""
    from ..discovery import discover

    return sorted(discover(None))


def _program_specs(ctx: click.Context, incomplete: str) -> list[CompletionItem]:
    """``--programs TYPE:FUNC``: the ``TYPE:`` part."""
    return _plain((f"{name}:" for name in _type_names()), incomplete)


def _program_types(ctx: click.Context, incomplete: str) -> list[CompletionItem]:
    """``--program-type``: bpfman's type names, then the kernel's."""
    from ..kernel.names import PROG_TYPE_FILTERS

    return _plain([*_type_names(), *PROG_TYPE_FILTERS.values()], incomplete)


# -- the host: interfaces, namespaces, cgroups -----------------------------------------
def _interfaces(ctx: click.Context, incomplete: str) -> list[CompletionItem]:
    """Interface names in the ``-n`` namespace given earlier on the line, else here."""
    import socket

    from ..kernel.namespaces import netns

    with netns(ctx.params.get("netns")):
        names = [name for _, name in socket.if_nameindex()]
    return _plain(sorted(names), incomplete)


def _netns_paths(ctx: click.Context, incomplete: str) -> list[CompletionItem]:
    """The named namespaces' paths (``ip netns``), matched by path or name; else files."""
    try:
        names = sorted(os.listdir(NETNS_DIR))
    except OSError:
        names = []
    found = [
        CompletionItem(f"{NETNS_DIR}/{name}")
        for name in names
        if f"{NETNS_DIR}/{name}".startswith(incomplete) or name.startswith(incomplete)
    ]
    return found or _files(ctx, incomplete)


def _cgroups(ctx: click.Context, incomplete: str) -> list[CompletionItem]:
    """cgroup v2 mount points, then the directories below the one typed."""
    from ..plugins.cgroup.cgroupfs import cgroup2_mounts

    mounts = cgroup2_mounts()
    inside = any(incomplete == m or incomplete.startswith(m.rstrip("/") + "/") for m in mounts)
    starting = [m for m in mounts if m.startswith(incomplete)]
    return _plain(starting, incomplete) if starting and not inside else _dirs(ctx, incomplete)


# Parameter name -> what it completes to; path-typed parameters complete files anyway.
_FILES = ("path", "data_in", "data_out", "ctx_in", "ctx_out", "output_file", "bytecode",
          "container_file", "key", "target")  # fmt: skip
_BY_NAME: dict[str, Completer] = {
    "program_id": _program_ids,
    "map_owner_id": _program_ids,
    "link_id": _link_ids,
    "programs": _program_specs,
    "program_type": _program_types,
    "iface": _interfaces,
    "netns": _netns_paths,
    "cgroup_path": _cgroups,
    "cilium_ebpf_project": _dirs,
    **dict.fromkeys(_FILES, _files),
}


def completer(param: click.Parameter) -> Completer | None:
    """What ``param`` completes to, or None for click's own completion (choices)."""
    if isinstance(param.type, click.Choice):
        return None
    name = param.name or ""
    if name in _BY_NAME:
        return _BY_NAME[name]
    if name.startswith("bc_"):  # image build --bc-<arch>: bytecode files
        return _files
    if isinstance(param.type, click.types.FuncParamType) and param.type.func is Path:
        return _files
    return None


def _multi_value(ctx: click.Context, args: list[str], incomplete: str) -> click.Parameter | None:
    """The :class:`MultiValueOption` whose values run up to the word being completed.

    click knows only the first word after ``--programs``; the following ones are
    its values too, until the next flag.
    """
    if incomplete.startswith("-"):
        return None
    flag = next((arg for arg in reversed(args) if arg.startswith("-")), None)
    for param in ctx.command.get_params(ctx):
        if isinstance(param, MultiValueOption) and flag in param.opts:
            return param
    return None


class _Resolving(ShellComplete):
    """click's resolution of the line, with :func:`completer` deciding for parameters."""

    def get_completions(self, args: list[str], incomplete: str) -> list[CompletionItem]:
        ctx = _resolve_context(self.cli, self.ctx_args, self.prog_name, args)
        obj, incomplete = _resolve_incomplete(ctx, args, incomplete)
        if isinstance(obj, click.Command):
            obj = _multi_value(ctx, args, incomplete) or obj
        found = completer(obj) if isinstance(obj, click.Parameter) else None
        return found(ctx, incomplete) if found else obj.shell_complete(ctx, incomplete)


class _Bash(_Resolving, BashComplete):
    pass


class _Zsh(_Resolving, ZshComplete):
    pass


class _Fish(_Resolving, FishComplete):
    pass


SHELLS: dict[str, type[ShellComplete]] = {"bash": _Bash, "zsh": _Zsh, "fish": _Fish}


def script(cli: click.Command, shell: str) -> str:
    """The completion script for ``shell``: it calls ``bpfman`` back on every Tab."""
    return SHELLS[shell](cli, {}, "bpfman", COMPLETE_VAR).source()


def complete(cli: click.Command, obj: object | None = None) -> int:
    """Answer the shell's ``$_BPFMAN_COMPLETE`` request (``bash_complete``, ``zsh_source``...).

    Candidates go to stdout; nothing ever goes to stderr, which the shell would
    print over the command line: any failure means no candidates.
    """
    shell, _, action = os.environ.get(COMPLETE_VAR, "").partition("_")
    if shell not in SHELLS or action not in ("source", "complete"):
        return 1
    if action == "source":
        sys.stdout.write(script(cli, shell))
        return 0
    comp = SHELLS[shell](cli, {} if obj is None else {"obj": obj}, "bpfman", COMPLETE_VAR)
    with _silenced():
        try:
            out = comp.complete()
        except Exception:
            out = ""
    sys.stdout.write(out + "\n")
    return 0


@contextmanager
def _silenced() -> Iterator[None]:
    """stderr (Python's and fd 2, where libraries write) goes nowhere for the body."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        with redirect_stderr(io.StringIO()):
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
