"""Man pages and shell completions, generated from the click command tree.

Nothing here is a second copy of the help: every page is rendered from the
same commands, options and help texts ``--help`` prints, so they cannot drift
apart; each command's :class:`Manual` adds what help has no room for
(environment, files, examples). Pages are gzipped roff, one per command and
subcommand of bpfman and bpfctl (``bpfman.1.gz``, ``bpfman-load-file.1.gz``,
``bpfctl.1.gz``...), and reproducible: dated by the release or the last
commit, never by the build.

Each command with pages names its manual under the ``bpfman.manuals`` entry
points (bpfman's in :mod:`.manual`, bpfctl's in :mod:`bpfman.bpfctl.manual`),
so the pages of a command built on this one are found without importing it
from here.
"""

from __future__ import annotations

import gzip
import os
import re
import shlex
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import click

from .. import __version__
from ..errors import InvalidInputError, PluginError
from . import roff
from .exits import EXIT_STATUSES
from .lazy import resolved
from .options import HelpArgument, argument_name, cleandoc, metavar, option_help

MANUALS = "bpfman.manuals"  # the entry points naming each command's Manual
SHELLS = ("bash", "zsh", "fish")
_COMPLETION_FILES = {"bash": "bpfman.bash", "zsh": "_bpfman", "fish": "bpfman.fish"}


@dataclass(frozen=True)
class Example:
    """What the commands show, and the commands (a long one continues after ``\\``).

    :param tour: shown on the root page too, not only on the pages of the commands.
    """

    what: str
    commands: tuple[str, ...]
    tour: bool = True


@dataclass(frozen=True)
class Manual:
    """One command's pages: the root command, and what its pages add to ``--help``."""

    name: str
    command: click.Command
    environment: tuple[tuple[str, str], ...]
    files: tuple[tuple[str, str], ...]
    examples: tuple[Example, ...]
    see_also: tuple[str, ...]
    more: str = ""  # a closing paragraph of the root page's SEE ALSO


@dataclass(frozen=True)
class Entry:
    """A command of the tree and the name of its page (``bpfman-load-file``).

    :param chain: the commands from the root to this one.
    """

    path: tuple[str, ...]
    chain: tuple[click.Command, ...]
    ctx: click.Context

    @property
    def name(self) -> str:
        return "-".join(self.path)

    @property
    def command(self) -> click.Command:
        return self.chain[-1]

    def runs(self, chain: tuple[click.Command, ...]) -> bool:
        """Whether a command line that runs ``chain`` runs this command under the same
        parent (bpfctl's ``load-from-image xdp`` is not ``load-from-file xdp``)."""
        mine = self.chain[-2:]
        return any(
            all(a is b for a, b in zip(chain[i:], mine, strict=False))
            for i in range(len(chain) - len(mine) + 1)
        )


def _context(command: click.Command, name: str, parent: click.Context | None = None,
             obj: object = None) -> click.Context:  # fmt: skip
    return click.Context(command, info_name=name, parent=parent, obj=obj,
                         **command.context_settings)  # fmt: skip


def _subcommands(entry: Entry) -> Iterator[tuple[str, click.Command]]:
    """A group's visible subcommands (``help`` has no page of its own)."""
    command, ctx = entry.command, entry.ctx
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is not None and not sub.hidden and name != "help":
                yield name, resolved(sub)


def walk(manual: Manual, obj: object = None) -> Iterator[Entry]:
    """Every command of ``manual`` that has a page, the root first.

    :param obj: the CLI's context object (the attach group asks it for the plugins).
    """
    root = _context(manual.command, manual.name, obj=obj)
    todo = [Entry((manual.name,), (manual.command,), root)]
    while todo:
        entry = todo.pop(0)
        yield entry
        for name, sub in _subcommands(entry):
            ctx = _context(sub, name, entry.ctx)
            todo.append(Entry((*entry.path, name), (*entry.chain, sub), ctx))


def invoked(manual: Manual, ctx: click.Context, line: str) -> tuple[click.Command, ...]:
    """The commands an example line runs, the root first (``attach 5 tcx``: root,
    attach, tcx); words that name no subcommand are its options and arguments."""
    chain = [manual.command]
    command = manual.command
    for word in shlex.split(line.replace("\\\n", " "))[1:]:
        if not isinstance(command, click.Group):
            break
        sub = command.get_command(ctx, word)
        if sub is not None and word != "help":
            command = resolved(sub)
            ctx = _context(command, word, ctx)
            chain.append(command)
    return tuple(chain)


def release_date(tree: Path | None = None) -> str:
    """The pages' date: ``SOURCE_DATE_EPOCH``'s, else this version's release date
    in the tree's CHANGELOG.md, else the day of the tree's last commit; "" when
    bpfman runs from no source tree. Never the day of the build."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH") or None
    if epoch is None:
        tree = tree or _source_tree()
        if tree is None:
            return ""
        changelog = tree / "CHANGELOG.md"
        released = rf"^## {re.escape(__version__)} \((\d{{4}}-\d\d-\d\d)\)"
        found = re.search(released, changelog.read_text(), re.M) if changelog.is_file() else None
        if found:
            return found[1]
        epoch = _last_commit(tree)
        if not epoch:
            return ""
    if not epoch.isdigit():
        raise InvalidInputError(f"SOURCE_DATE_EPOCH={epoch!r} is not a number of seconds")
    return datetime.fromtimestamp(int(epoch), UTC).date().isoformat()


def _source_tree() -> Path | None:
    """The tree bpfman runs from (a checkout, an unpacked sdist), if it runs from one."""
    tree = Path(__file__).resolve().parents[2]
    return tree if (tree / "pyproject.toml").is_file() else None


def _last_commit(tree: Path) -> str:
    """The time of the tree's last commit ("" if it is no git checkout).

    ``make install`` runs as root in a clone that is someone else's, which git
    refuses ("dubious ownership") lest the clone's config run commands as root.
    Reading the log runs none (no pager, no signature check), so this tree is
    declared safe for this one command.
    """
    if not (tree / ".git").exists():
        return ""
    tree = tree.absolute()
    git = ["git", "-c", f"safe.directory={tree}", "-C", str(tree), "--no-pager",
           "log", "--no-show-signature", "-1", "--format=%ct"]  # fmt: skip
    try:
        return subprocess.run(git, capture_output=True, text=True).stdout.strip()
    except OSError:  # no git
        return ""


def _ref(page: str) -> str:
    """``bpfman-load-file`` or ``bpftool(8)`` as a reference to a page (section 1 if none)."""
    name, _, section = page.removesuffix(")").partition("(")
    return f"{roff.bold(name)}({section or 1})"


def _synopsis(entry: Entry) -> list[str]:
    """``.SY``: the usage line, each option with its value on one unbreakable word."""
    usage = entry.command.get_usage(entry.ctx).removeprefix("Usage:").split()
    terms: list[list[str]] = []
    for word in usage:
        if terms and terms[-1][-1].startswith("-") and word.startswith("<"):
            terms[-1].append(word)
        else:
            terms.append([word])
    root, *rest = terms
    return [f".SY {root[0]}", *(roff.term(t) for t in rest), ".YS"]


def _arguments(command: click.Command) -> list[str]:
    out = []
    for arg in command.params:
        if isinstance(arg, click.Argument):
            text = (arg.help or "") if isinstance(arg, HelpArgument) else ""
            out += [".TP", roff.metavar(argument_name(arg)), *roff.body(text, ".IP")]
    return out


def _options(entry: Entry) -> list[str]:
    out = []
    for param in entry.command.get_params(entry.ctx):
        if not isinstance(param, click.Option) or param.hidden:
            continue
        shorts = [o for o in param.opts if not o.startswith("--")][:1]
        longs = [o for o in param.opts if o.startswith("--")]
        names = ",\\ ".join(roff.bold(o) for o in shorts + longs)
        takes = metavar(param)
        out += [".TP", names + (f"\\ {roff.metavar(takes)}" if takes else "")]
        out += roff.body(option_help(param), ".IP")
    return out


def _examples(manual: Manual, entry: Entry, own: list[list[str]], root: click.Context) -> list[str]:
    """The command's own examples (its help's), then the manual's that run it."""
    out = [line for lines in own for line in [".PP", *roff.example(lines)]]
    for example in manual.examples:
        if len(entry.path) == 1 and not example.tour:
            continue
        lines = [c for c in example.commands if entry.runs(invoked(manual, root, c))]
        if lines:
            out += [".PP", roff.words(example.what)]
            out += roff.example([ln for c in lines for ln in c.splitlines()])
    return out


def _table(rows: tuple[tuple[str, str], ...]) -> list[str]:
    """ENVIRONMENT and FILES: each name in bold, what it is below."""
    return [
        line
        for name, text in rows
        for line in [".TP", f"\\fB{roff.words(name)}\\fR", *roff.body(text, ".IP")]
    ]


def page(manual: Manual, entry: Entry, date: str, others: list[str], root: click.Context) -> str:
    """One man page in roff: its sections are those of ``--help``, then EXIT STATUS,
    then (on the root page) ENVIRONMENT and FILES, EXAMPLES and SEE ALSO.

    :param others: the other pages of the same command (its noun-first spelling).
    :param root: the root command's context, in which the examples are resolved.
    """
    command = entry.command
    top = len(entry.path) == 1
    summary = command.get_short_help_str(limit=200)
    help_text = cleandoc(command.help or summary)
    if command.epilog:
        help_text += "\n\n" + cleandoc(command.epilog)
    description, own_examples = roff.split_examples(help_text)
    subcommands = [name for name, _ in _subcommands(entry)]
    sections = {
        "SYNOPSIS": _synopsis(entry),
        "DESCRIPTION": roff.body(description),
        "ARGUMENTS": _arguments(command),
        "OPTIONS": _options(entry),
        "COMMANDS": [line for name, sub in _subcommands(entry) for line in
                     [".TP", _ref(f"{entry.name}-{name}"), roff.words(sub.get_short_help_str(200))]],
        "EXIT STATUS": [line for row in EXIT_STATUSES for line in
                        [".TP", f"\\fB{row.code}\\fR", roff.words(row.meaning)]],
        "ENVIRONMENT": _table(manual.environment) if top else [],
        "FILES": _table(manual.files) if top else [],
        "EXAMPLES": _examples(manual, entry, own_examples, root),
    }  # fmt: skip
    refs = [*(["-".join(entry.path[:-1])] if not top else []), *others]
    refs += [f"{entry.name}-{name}" for name in subcommands]
    refs += list(manual.see_also) if top else []
    out = [
        f'.TH {entry.name.upper()} 1 "{date}" "bpfman {__version__}" "bpfman Manual"',
        ".SH NAME",
        f"{roff.literal(entry.name)} \\- {roff.words(summary.rstrip('.'))}",
    ]
    for title, lines in sections.items():
        if lines:
            out += [f".SH {title}", *lines]
    out += [".SH SEE ALSO", ".ad l", ",\n".join(_ref(r) for r in refs), ".ad"]
    if top and manual.more:
        out += [".PP", roff.words(manual.more)]
    return "\n".join(out) + "\n"


def manuals() -> list[Manual]:
    """The commands that have pages, bpfman's first: each names its own (:data:`MANUALS`)."""
    from importlib.metadata import entry_points

    found = {ep.name: ep for ep in entry_points(group=MANUALS)}
    if "bpfman" not in found:
        raise PluginError(f"no {MANUALS} entry points: bpfman's metadata is stale; reinstall it")
    return [found[name].load()() for name in sorted(found, key=lambda n: (n != "bpfman", n))]


def write_man_pages(out_dir: Path, obj: object = None, tree: Path | None = None) -> list[Path]:
    """Write every page of bpfman and bpfctl into ``out_dir``, dated by :func:`release_date`.

    :param obj: the CLI's context object (the attach group asks it for the plugins).
    """
    date = release_date(tree)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for manual in manuals():
        entries = list(walk(manual, obj))
        root = entries[0].ctx
        spellings: dict[int, list[str]] = {}
        for entry in entries:
            spellings.setdefault(id(entry.command), []).append(entry.name)
        for entry in entries:
            others = [n for n in spellings[id(entry.command)] if n != entry.name]
            target = out_dir / f"{entry.name}.1.gz"
            data = page(manual, entry, date, others, root).encode()
            with open(target, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as f:
                f.write(data)
            written.append(target)
    return written


def write_completions(root: click.Command, out_dir: Path, shells: tuple[str, ...]) -> list[Path]:
    """Write each shell's completion script (they call back into ``bpfman``, see complete.py)."""
    from .complete import script

    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for shell in shells:
        target = out_dir / _COMPLETION_FILES[shell]
        target.write_text(script(root, shell))
        os.chmod(target, 0o644)
        written.append(target)
    return written
