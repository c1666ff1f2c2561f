"""The man pages of bpfman and bpfctl, rendered by groff and man as a reader sees them,
against the ``--help`` of every command; and every help text against its command.

The pages come from ``bpfman man DIR``; the help texts from the click tree, walked
here on its own (not by the generator under test).
"""

from __future__ import annotations

import datetime
import gzip
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import click
import pytest

import bpfman
from bpfman.bpfctl.main import cli as bpfctl_cli
from bpfman.cli.app import App
from bpfman.cli.docs import manuals
from bpfman.cli.lazy import resolved
from bpfman.cli.main import cli as bpfman_cli
from tests.helpers.root import REPO, Root, fresh_root

ROOTS = {"bpfman": bpfman_cli, "bpfctl": bpfctl_cli}
# A flag a help text names that belongs to another command: the text says whose it is.
CROSS_REFERENCES = {
    "--programs": ("bpfman", "load", "file"),  # --program-type: "as bpfman names it (--programs"
    "--metadata": ("bpfman", "load", "file"),  # --metadata-selector: "loaded with `--metadata`"
}
TOKEN = re.compile(r"(?<![\w-])--?[A-Za-z][\w-]*")


@dataclass
class Command:
    """A command of the tree: its page's name, its --help, and its flags."""

    path: tuple[str, ...]
    command: click.Command
    help: str
    flags: set[str]  # its own, its ancestors' and the global options it takes

    @property
    def name(self) -> str:
        return "-".join(self.path)


@dataclass
class Page:
    source: str  # roff
    text: str  # as groff renders it, without bold or underline
    warnings: str


def walk(root: click.Command, name: str, obj: object) -> Iterator[Command]:
    """Every visible command under ``root``, with the flags its command line takes."""

    def visit(command: click.Command, ctx: click.Context, path: tuple[str, ...],
              inherited: set[str]) -> Iterator[Command]:  # fmt: skip
        flags = inherited | {o for p in command.get_params(ctx) for o in getattr(p, "opts", ())}
        yield Command(path, command, command.get_help(ctx), flags)
        if isinstance(command, click.Group):
            for sub_name in command.list_commands(ctx):
                sub = command.get_command(ctx, sub_name)
                if sub is None or sub.hidden or sub_name == "help":
                    continue
                sub = resolved(sub)
                sub_ctx = click.Context(sub, info_name=sub_name, parent=ctx, **sub.context_settings)
                yield from visit(sub, sub_ctx, (*path, sub_name), flags)

    ctx = click.Context(root, info_name=name, obj=obj, **root.context_settings)
    yield from visit(root, ctx, (name,), set())


def render(page: Path) -> Page:
    source = gzip.decompress(page.read_bytes()).decode()
    proc = subprocess.run(
        ["groff", "-man", "-Tutf8", "-ww", "-P-cbou"], input=source, capture_output=True,
        text=True, check=True,
    )  # fmt: skip
    return Page(source, proc.stdout, proc.stderr)


def flat(text: str) -> str:
    return " ".join(text.split())


def lines(text: str) -> set[str]:
    return {line.strip() for line in text.splitlines()}


@pytest.fixture(scope="module")
def tree() -> Iterator[tuple[list[Command], Root]]:
    with fresh_root() as root:
        app = App(root.path)
        try:
            yield [c for name, cli in ROOTS.items() for c in walk(cli, name, app)], root
        finally:
            app.close()


@pytest.fixture(scope="module")
def commands(tree: tuple[list[Command], Root]) -> list[Command]:
    return tree[0]


@pytest.fixture(scope="module")
def pages(tree: tuple[list[Command], Root], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Page]:  # fmt: skip
    out = tmp_path_factory.mktemp("man")
    written = tree[1].run("man", out).stdout.split()
    return {Path(p).name.removesuffix(".1.gz"): render(Path(p)) for p in written}


def test_every_command_has_a_page_that_renders_cleanly(commands: list[Command], pages: dict[str, Page]) -> None:  # fmt: skip
    assert sorted(pages) == sorted(c.name for c in commands)
    assert {"bpfman", "bpfman-attach-tcx", "bpfctl", "bpfctl-load-from-image-uprobe"} <= set(pages)
    for name, page in pages.items():
        assert page.warnings == "", (name, page.warnings)
        assert f"{name.upper()}(1)" in page.text.splitlines()[0]
    for name in ("bpfman", "bpfctl"):  # man-db reads them as they are installed
        shown = subprocess.run(
            ["man", "-l", "-"], input=pages[name].source, capture_output=True, text=True,
            env={**os.environ, "MANWIDTH": "80", "MANPAGER": "cat"},
        )  # fmt: skip
        assert shown.returncode == 0 and "EXAMPLES" in shown.stdout, shown.stderr


def test_pages_carry_the_date_and_version(
    tree: tuple[list[Command], Root], pages: dict[str, Page], tmp_path: Path
) -> None:
    """The version's release date (CHANGELOG.md) or the day of the last commit, or
    SOURCE_DATE_EPOCH's: never the day the pages were made."""
    released = re.search(
        rf"^## {re.escape(bpfman.__version__)} \((\d{{4}}-\d\d-\d\d)\)",
        (REPO / "CHANGELOG.md").read_text(), re.M,
    )  # fmt: skip
    git = ["git", "-C", str(REPO), "log", "-1", "--format=%ct"]
    epoch = int(subprocess.run(git, capture_output=True, text=True, check=True).stdout)
    day = released[1] if released else datetime.datetime.fromtimestamp(epoch, datetime.UTC)
    expected = f'"{str(day)[:10]}" "bpfman {bpfman.__version__}" "bpfman Manual"'
    for name, page in pages.items():
        assert page.source.startswith(f".TH {name.upper()} 1 {expected}\n"), name

    root = tree[1]

    def man(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
        out = tmp_path / f"pages{len(list(tmp_path.iterdir()))}"
        return subprocess.run(
            [sys.executable, "-m", "bpfman", "man", str(out), *args],
            env={**root.env, **env}, capture_output=True, text=True, cwd=REPO,
        )  # fmt: skip

    def dated(*args: str, **env: str) -> str:
        proc = man(*args, **env)
        assert proc.returncode == 0, proc.stderr
        page = Path(proc.stdout.split()[-1]).with_name("bpfctl-get.1.gz")
        return gzip.decompress(page.read_bytes()).decode().split('"')[1]

    assert dated(SOURCE_DATE_EPOCH="31536000") == "1971-01-01"
    # A tree whose CHANGELOG dates this version, and a clone someone else owns (as
    # `sudo make install` finds it): its last commit's day.
    source = tmp_path / "source"
    source.mkdir()
    (source / "CHANGELOG.md").write_text(f"# Changelog\n\n## {bpfman.__version__} (2027-03-04)\n")
    assert dated("--source-tree", str(source)) == "2027-03-04"
    clone = tmp_path / "clone"
    clone.mkdir()
    git = ["git", "-C", str(clone), "-c", "user.name=a", "-c", "user.email=a@b"]
    when = {"GIT_COMMITTER_DATE": "2025-02-03T12:00:00Z", "GIT_AUTHOR_DATE": "2025-02-03T12:00:00Z"}
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "x"], check=True,
                   env={**os.environ, **when})  # fmt: skip
    subprocess.run(["chown", "-R", "nobody", str(clone)], check=True)
    assert dated("--source-tree", str(clone)) == "2025-02-03"
    assert dated("--source-tree", str(tmp_path / "nothing")) == ""  # no source: no date
    bad = man(SOURCE_DATE_EPOCH="yesterday")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1, bad.stderr


def test_every_page_has_its_sections(commands: list[Command], pages: dict[str, Page]) -> None:
    for command in commands:
        headings = [ln for ln in pages[command.name].text.splitlines() if re.match(r"^[A-Z]", ln)]
        wanted = ["NAME", "SYNOPSIS", "DESCRIPTION", "EXIT STATUS", "SEE ALSO"]
        if "\nOptions:\n" in command.help:
            wanted.insert(3, "OPTIONS")
        if len(command.path) == 1:
            wanted[-1:-1] = ["ENVIRONMENT", "FILES", "EXAMPLES"]
        assert [h for h in headings if h in wanted] == wanted, command.name
    see_also = flat(pages["bpfman"].text.split("\nSEE ALSO\n")[1])
    for ref in ("bpfman-load(1)", "bpfman-system(1)", "bpfctl(1)", "bpftool(8)"):
        assert ref in see_also
    assert "bpfman-load(1), bpfman-program-load-file(1)" in flat(pages["bpfman-load-file"].text)
    assert "bpfman(1)" in flat(pages["bpfctl"].text.split("\nSEE ALSO\n")[1])
    environments = "".join(
        pages[name].text.split("\nENVIRONMENT\n")[1].split("\nFILES\n")[0]
        for name in ("bpfman", "bpfctl")
    )
    used = set()
    for path in (REPO / "bpfman").rglob("*.py"):  # every variable bpfman reads
        found = re.findall(r'(?:environ(?:\.get)?[(\[]|_ENV = |_VAR = |envvar=)"([A-Z_]+)"',
                           path.read_text())  # fmt: skip
        used |= set(found)
    # systemd's and journald's, a test switch, and the hidden man command's (packagers')
    internal = {"LISTEN_PID", "LISTEN_FDS", "JOURNAL_STREAM", "BPFMAN_FREPLACE",
                "SOURCE_DATE_EPOCH"}  # fmt: skip
    assert {"BPFMAN_ROOT", "BPFMAN_LOCK_TIMEOUT", "_BPFMAN_COMPLETE", "BPFMAN_HOST_PROC",
            "BPFMAN_SOCKET_PATH", "COSIGN_PASSWORD"} <= used  # fmt: skip
    for name in sorted(used - internal):
        assert re.search(rf"(^|\W){name}\W", environments), name
    files = flat(pages["bpfman"].text.split("\nFILES\n")[1].split("\nEXAMPLES\n")[0])
    for where in ("/run/bpfman/db/", "/run/bpfman/fs/", "/run/bpfman/images/", "plugins.cache",
                 "/run/bpfman/csi/", "/etc/bpfman/bpfman.toml", "/etc/bpfman/programs.d/",
                 "/run/bpfman-sock/bpfman.sock"):  # fmt: skip
        assert where in files, where
    assert "BPFMAN_SOCKET_PATH" in pages["bpfctl"].text


def standalone(help_text: str) -> Iterator[str]:
    """The lines of a help text that are lines, not prose: examples and formats."""
    under_heading = False
    for line in help_text.splitlines():
        text = line.strip()
        if under_heading or text.startswith(("Example:", "Format")):
            yield text
        under_heading = text in ("Example:", "Examples:") or (under_heading and text != "")


def test_examples_and_formats_stay_on_their_own_lines(commands: list[Command], pages: dict[str, Page]) -> None:  # fmt: skip
    found = 0
    for command in commands:
        shown = lines(pages[command.name].text)
        for line in standalone(command.help):
            if line not in ("Example:", "Examples:"):  # a heading: EXAMPLES has the lines
                assert line in shown, (command.name, line)
                found += 1
    assert found > 150
    for manual in manuals():
        for example in (e for e in manual.examples if e.tour):
            for line in "\n".join(example.commands).splitlines():
                assert line.strip() in lines(pages[manual.name].text), line
    tour = pages["bpfman"].text.split("\nEXAMPLES\n")[1]
    assert "\n           bpfman unload 1231 1243\n" in tour  # indented, a line of its own


def test_options_read_as_help_shows_them(commands: list[Command], pages: dict[str, Page]) -> None:
    """Each option's names and value, unbroken: ``-g, --global <GLOBAL>...``."""
    for command in commands:
        shown = lines(pages[command.name].text)
        options = command.help.split("\nOptions:\n")[1:]
        heads = [ln for ln in "".join(options).splitlines() if re.match(r"^(  -|      --)", ln)]
        assert heads or not options, command.name
        for head in heads:
            assert head.strip() in shown, (command.name, head)
        assert "<GLOBAL_>" not in pages[command.name].text
    assert "-g, --global <GLOBAL>..." in lines(pages["bpfman-load-file"].text)
    assert "--map-owner-id <MAP_OWNER_ID>" in lines(pages["bpfman-load-image"].text)


def test_possible_values_and_defaults_are_in_the_pages(commands: list[Command], pages: dict[str, Page]) -> None:  # fmt: skip
    found = 0
    for command in commands:
        shown = flat(pages[command.name].text)
        for value in re.findall(r"\[(?:possible values|default:)[^\]]*\]", command.help):
            assert flat(value) in shown, (command.name, value)
            found += 1
    assert found > 100


def test_help_names_only_flags_the_command_has(commands: list[Command]) -> None:
    """No help text sends a reader to a flag its command does not take."""
    by_path = {c.path: c for c in commands}
    for command in commands:
        for token in TOKEN.findall(command.help):
            owner = by_path.get(CROSS_REFERENCES.get(token, ()), command)
            assert token in command.flags or token in owner.flags, (command.name, token)
    for owner_path in set(CROSS_REFERENCES.values()):
        assert owner_path in by_path


def test_the_pages_examples_parse(tree: tuple[list[Command], Root]) -> None:
    """Each example of the pages is a command line its command accepts."""
    app = App(tree[1].path)
    try:
        for manual in manuals():
            for example in manual.examples:
                for line in example.commands:
                    args = shlex.split(line.replace("\\\n", " "))
                    ctx = manual.command.make_context(args[0], args[1:], obj=app)
                    command: click.Command = manual.command
                    while isinstance(command, click.Group):
                        rest = [*ctx._protected_args, *ctx.args]
                        name, found, rest = command.resolve_command(ctx, rest)
                        assert found is not None, line
                        command = resolved(found)
                        ctx = command.make_context(name, rest, parent=ctx)
    finally:
        app.close()


def test_help_texts_say_what_they_mean(commands: list[Command]) -> None:
    """Typos fixed in bpfman's texts (bpfctl quotes the bpfctl guide as it is)."""
    ours = "\n".join(c.help for c in commands if c.path[0] == "bpfman")
    for typo in ("can be enter ", "filer on", " a OCI ", "it's own", "progam", "--registry_auth",
                 "--container_file", "assuming amd64 architecture.\n          Example: --bc-386"):  # fmt: skip
        assert typo not in ours, typo
    build = next(c for c in commands if c.path == ("bpfman", "image", "generate-build-args"))
    assert "--container-file" not in build.help and "--tag" not in build.help


def test_groups_format_alike_and_have_help(commands: list[Command]) -> None:
    for command in commands:
        if isinstance(command.command, click.Group):
            assert command.help.splitlines()[0].endswith("<COMMAND>"), command.name
            listed = command.help.split("\nCommands:\n")[1].split("\n\n")[0]
            assert re.search(r"^  help +Print this message", listed, re.M), command.name
