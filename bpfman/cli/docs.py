"""Man pages and shell completions, generated from the click command tree.

Nothing here is a second copy of the help: every page is rendered from the
same commands, options and help texts ``--help`` prints, so they cannot
drift apart. Pages are gzipped roff (``bpfman.1.gz``, one per subcommand:
``bpfman-load-file.1.gz``...), written reproducibly (no timestamps).
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Iterator
from pathlib import Path

import click

from .app import EXIT_STATUSES
from .lazy import resolved
from .options import HelpArgument, argument_name, cleandoc

SHELLS = ("bash", "zsh", "fish")
_COMPLETION_FILES = {"bash": "bpfman.bash", "zsh": "_bpfman", "fish": "bpfman.fish"}


def _roff(text: str) -> str:
    """Escape text for roff: backslashes, and lines that would read as requests."""
    lines = []
    for line in text.replace("\\", "\\e").splitlines():
        lines.append("\\&" + line if line.startswith((".", "'")) else line)
    return "\n".join(lines)


def _walk(
    command: click.Command, ctx: click.Context, path: list[str]
) -> Iterator[tuple[list[str], click.Command, click.Context]]:
    yield path, command, ctx
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is None or sub.hidden or name == "help":
                continue
            sub = resolved(sub)
            sub_ctx = click.Context(sub, info_name=name, parent=ctx)
            yield from _walk(sub, sub_ctx, [*path, name])


def _synopsis(command: click.Command, ctx: click.Context) -> str:
    return f"{ctx.command_path} {' '.join(command.collect_usage_pieces(ctx))}"


def page(path: list[str], command: click.Command, ctx: click.Context) -> str:
    """One man page in roff."""
    name = "-".join(path)
    summary = command.get_short_help_str(limit=200)
    out = [
        f'.TH {name.upper()} 1 "" "bpfman" "bpfman Manual"',
        ".SH NAME",
        f"{_roff(name)} \\- {_roff(summary)}",
        ".SH SYNOPSIS",
        f".B {_roff(_synopsis(command, ctx))}",
        ".SH DESCRIPTION",
        _roff(cleandoc(command.help or summary)),
    ]
    if command.epilog:
        out += [".PP", _roff(command.epilog)]
    arguments = [p for p in command.params if isinstance(p, click.Argument)]
    options = [p for p in command.get_params(ctx) if isinstance(p, click.Option) and not p.hidden]
    if arguments:
        out.append(".SH ARGUMENTS")
        for arg in arguments:
            out += [".TP", f"\\fB{_roff(argument_name(arg))}\\fR"]
            if isinstance(arg, HelpArgument) and arg.help:
                out.append(_roff(arg.help))
    if options:
        out.append(".SH OPTIONS")
        for opt in options:
            flags = ", ".join(f"\\fB{_roff(o)}\\fR" for o in opt.opts + opt.secondary_opts)
            value = "" if opt.is_flag else f" <{(opt.name or 'value').upper()}>"
            out += [".TP", flags + value]
            if opt.help:
                out.append(_roff(cleandoc(opt.help)))
    if isinstance(command, click.Group):
        subs = [n for n in command.list_commands(ctx) if n != "help"]
        visible = [(n, command.get_command(ctx, n)) for n in subs]
        rows = [(n, c) for n, c in visible if c is not None and not c.hidden]
        if rows:
            out.append(".SH COMMANDS")
            for sub_name, sub in rows:
                out += [".TP", f"\\fB{_roff(sub_name)}\\fR", _roff(sub.get_short_help_str(200))]
                out.append(f"See \\fB{name}-{sub_name}\\fR(1).")
    out.append(".SH EXIT STATUS")
    for row in EXIT_STATUSES:
        out += [".TP", f"\\fB{row.code}\\fR", _roff(row.meaning)]
    if len(path) > 1:
        out += [".SH SEE ALSO", f"\\fB{'-'.join(path[:-1])}\\fR(1)"]
    return "\n".join(out) + "\n"


def write_man_pages(root: click.Command, out_dir: Path, obj: object) -> list[Path]:
    """Write ``bpfman.1.gz`` and one page per subcommand into ``out_dir``.

    :param obj: the CLI's context object (the attach group asks it for the plugins).
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    ctx = click.Context(root, info_name="bpfman", obj=obj)
    for path, command, sub_ctx in _walk(root, ctx, ["bpfman"]):
        target = out_dir / f"{'-'.join(path)}.1.gz"
        data = page(path, command, sub_ctx).encode()
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
