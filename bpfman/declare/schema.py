"""The declaration: programs and links as TOML a person can read and edit.

The schema is documented in ``docs/declarations.md``. Reading checks every
value's type and refuses with one line naming the file, the entry and the
key; writing uses ``tomli_w`` one table at a time, so every entry comes out
the same way whatever its length.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, time
from pathlib import Path
from typing import Any

from bpfman.errors import InvalidInputError, NotFoundError
from bpfman.inputs import parse_global
from bpfman.validate import PULL_POLICIES, text

VERSION = 1
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_TOP_KEYS = ("version", "program", "link")
_PROGRAM_KEYS = (
    "name", "type", "function", "attach_func", "file", "sha256", "image", "digest",
    "pull_policy", "globals", "metadata", "map_owner",
)  # fmt: skip
_LINK_KEYS = ("program", "type", "options", "metadata")
#: A link option's value: what the types' attach options take.
OptionValue = str | int | bool | list[str]


@dataclass(frozen=True)
class FileSource:
    """A local object file; ``sha256`` (when given) must match its content."""

    path: str
    sha256: str | None = None


@dataclass(frozen=True)
class ImageSource:
    """A bytecode image; ``digest`` (when given) must match what is pulled."""

    url: str
    digest: str | None = None
    pull_policy: str = "IfNotPresent"


@dataclass(frozen=True)
class ProgramEntry:
    """One ``[[program]]``: what to load, under a name unique in the declaration."""

    name: str
    type: str
    function: str
    source: FileSource | ImageSource
    attach_func: str | None = None
    globals: Mapping[str, str] = field(default_factory=dict)
    metadata: Mapping[str, str] = field(default_factory=dict)
    map_owner: str | None = None
    #: The file it was read from (for messages; not part of what it declares).
    origin: str = field(default="", compare=False)

    def where(self) -> str:
        """How messages name the entry."""
        return f'{_prefix(self.origin)}program "{self.name}"'


@dataclass(frozen=True)
class LinkEntry:
    """One ``[[link]]``: where to attach the program named ``program``.

    ``options`` are the type's attach options (``bpfman attach ID TYPE --help``),
    ``metadata`` the link's own, beyond the application it inherits.
    """

    program: str
    options: Mapping[str, OptionValue] = field(default_factory=dict)
    metadata: Mapping[str, str] = field(default_factory=dict)
    type: str | None = None
    #: The file it was read from and its number there (for messages).
    origin: str = field(default="", compare=False)
    index: int = field(default=0, compare=False)

    def where(self) -> str:
        return f'{_prefix(self.origin)}link #{self.index} (program "{self.program}")'


@dataclass(frozen=True)
class Declaration:
    """Programs and links; links are attached in their order here."""

    programs: Sequence[ProgramEntry] = ()
    links: Sequence[LinkEntry] = ()

    def dumps(self) -> str:
        """The declaration as TOML (what ``bpfman system save`` writes)."""
        import tomli_w

        chunks = [
            "# A bpfman declaration: `bpfman system apply FILE` makes the host run this.\n"
            "# Schema: docs/declarations.md. Kernel ids never appear: they do not survive a reboot.\n",
            tomli_w.dumps({"version": VERSION}),
        ]
        for program in self.programs:
            chunks.append("\n[[program]]\n" + tomli_w.dumps(_program_keys(program)))
            for key in ("globals", "metadata"):
                values = getattr(program, key)
                if values:
                    chunks.append(f"[program.{key}]\n" + tomli_w.dumps(dict(values)))
        for link in self.links:
            head = {"program": link.program, **({"type": link.type} if link.type else {})}
            chunks.append("\n[[link]]\n" + tomli_w.dumps(head))
            for key in ("options", "metadata"):
                values = getattr(link, key)
                if values:
                    chunks.append(f"[link.{key}]\n" + tomli_w.dumps(dict(values)))
        return "".join(chunks)


def _prefix(origin: str) -> str:
    return f"{origin}: " if origin else ""


def _program_keys(program: ProgramEntry) -> dict[str, Any]:
    keys: dict[str, Any] = {"name": program.name, "type": program.type}
    keys["function"] = program.function
    if program.attach_func:
        keys["attach_func"] = program.attach_func
    source = program.source
    if isinstance(source, FileSource):
        keys["file"] = source.path
        if source.sha256:
            keys["sha256"] = source.sha256
    else:
        keys["image"] = source.url
        if source.digest:
            keys["digest"] = source.digest
        keys["pull_policy"] = source.pull_policy
    if program.map_owner:
        keys["map_owner"] = program.map_owner
    return keys


# -- reading --------------------------------------------------------------------------
def read(paths: Iterable[str | os.PathLike[str]]) -> Declaration:
    """The declarations in ``paths`` merged; a directory stands for its ``*.toml`` files."""
    files: list[Path] = []
    for given in paths:
        path = Path(given)
        try:
            if path.is_dir():
                files += sorted(p for p in path.glob("*.toml") if p.is_file())
            elif path.is_file():
                files.append(path)
            else:
                raise NotFoundError(f"declaration {given} not found")
        except OSError as exc:
            raise NotFoundError(f"cannot read declaration {given}: {exc.strerror}") from None
    return merged(parse_file(path) for path in files)


def parse_file(path: Path) -> Declaration:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise NotFoundError(f"cannot read declaration {path}: {exc.strerror}") from None
    return parse(raw.decode("utf-8", errors="replace"), str(path))


def parse(source: str, origin: str = "") -> Declaration:
    """A declaration from TOML text; relative file paths are relative to ``origin``'s folder."""
    where = origin or "declaration"
    try:
        document = tomllib.loads(source)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidInputError(f"{where}: not valid TOML: {exc}") from None
    _known_keys(document, _TOP_KEYS, where)
    version = document.get("version", VERSION)
    if type(version) is not int or version != VERSION:
        raise InvalidInputError(f"{where}: version must be {VERSION}, got {_shown(version)}")
    base = os.path.dirname(os.path.abspath(origin)) if origin else os.getcwd()
    programs = [
        _program(entry, f"{where}: program #{i}", origin, base)
        for i, entry in enumerate(_tables(document, "program", where), 1)
    ]
    links = [
        _link(entry, f"{where}: link #{i}", origin, i)
        for i, entry in enumerate(_tables(document, "link", where), 1)
    ]
    return Declaration(programs, links)


def merged(declarations: Iterable[Declaration]) -> Declaration:
    """Several declarations as one; a program name declared twice is refused."""
    programs: list[ProgramEntry] = []
    links: list[LinkEntry] = []
    seen: dict[str, ProgramEntry] = {}
    for declaration in declarations:
        for program in declaration.programs:
            first = seen.get(program.name)
            if first is not None:
                also = f" (first declared in {first.origin})" if first.origin else ""
                raise InvalidInputError(f"{program.where()}: the name is declared twice{also}")
            seen[program.name] = program
            programs.append(program)
        links += declaration.links
    return Declaration(programs, links)


def _tables(document: Mapping[str, Any], key: str, where: str) -> list[dict[str, Any]]:
    value = document.get(key, [])
    if not isinstance(value, list) or not all(isinstance(t, dict) for t in value):
        raise InvalidInputError(f"{where}: {key} must be an array of tables ([[{key}]])")
    return value


def _program(entry: dict[str, Any], where: str, origin: str, base: str) -> ProgramEntry:
    name = _required(entry, "name", where)
    where = f'{_prefix(origin) or "declaration: "}program "{name}"'
    _known_keys(entry, _PROGRAM_KEYS, where)
    kind = _required(entry, "type", where)
    function = _required(entry, "function", where)
    file, image = _string(entry, "file", where), _string(entry, "image", where)
    if (file is None) == (image is None):
        raise InvalidInputError(f"{where}: give exactly one of file and image")
    source: FileSource | ImageSource
    if file is not None:
        _refuse(entry, ("digest", "pull_policy"), "file", where)
        sha256 = _string(entry, "sha256", where)
        if sha256 is not None and not _SHA256.match(sha256.lower()):
            raise InvalidInputError(f"{where}: sha256 must be 64 hex digits, got {sha256!r}")
        path = file if os.path.isabs(file) else os.path.normpath(os.path.join(base, file))
        source = FileSource(path, sha256.lower() if sha256 else None)
    else:
        assert image is not None
        _refuse(entry, ("sha256",), "image", where)
        digest = _string(entry, "digest", where)
        if digest is not None and not (
            digest.startswith("sha256:") and _SHA256.match(digest[len("sha256:") :])
        ):
            raise InvalidInputError(f"{where}: digest must be sha256:<64 hex digits>")
        policy = _string(entry, "pull_policy", where) or "IfNotPresent"
        if policy not in PULL_POLICIES:
            raise InvalidInputError(
                f"{where}: pull_policy must be one of {', '.join(PULL_POLICIES)}, got {policy!r}"
            )
        source = ImageSource(image, digest, policy)
    globals_ = _string_table(entry, "globals", where)
    for key, value in globals_.items():
        try:
            parse_global(f"{key}={value}")
        except InvalidInputError as exc:
            raise InvalidInputError(f"{where}: globals.{key}: {exc}") from None
    return ProgramEntry(
        name=name,
        type=kind,
        function=function,
        source=source,
        attach_func=_string(entry, "attach_func", where),
        globals=globals_,
        metadata=_string_table(entry, "metadata", where),
        map_owner=_string(entry, "map_owner", where),
        origin=origin,
    )


def _link(entry: dict[str, Any], where: str, origin: str, index: int) -> LinkEntry:
    where = f'{where} (program "{_required(entry, "program", where)}")'
    _known_keys(entry, _LINK_KEYS, where)
    options = entry.get("options", {})
    if not isinstance(options, dict):
        raise InvalidInputError(f"{where}: options must be a table, got {_shown(options)}")
    for key, value in options.items():
        fits = isinstance(value, str | int) or (
            isinstance(value, list) and all(isinstance(v, str) for v in value)
        )
        if not fits:
            raise InvalidInputError(
                f"{where}: options.{key} must be a string, an integer, a boolean or an array "
                f"of strings, got {_shown(value)}"
            )
    return LinkEntry(
        program=entry["program"],
        options=dict(options),
        metadata=_string_table(entry, "metadata", where),
        type=_string(entry, "type", where),
        origin=origin,
        index=index,
    )


def _known_keys(table: Mapping[str, Any], known: Sequence[str], where: str) -> None:
    for key in table:
        if key not in known:
            raise InvalidInputError(f"{where}: unknown key {key!r} (keys: {', '.join(known)})")


def _refuse(entry: Mapping[str, Any], keys: Sequence[str], source: str, where: str) -> None:
    for key in keys:
        if key in entry:
            raise InvalidInputError(f"{where}: {key} does not go with {source}")


def _string(entry: Mapping[str, Any], key: str, where: str) -> str | None:
    value = entry.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise InvalidInputError(f"{where}: {key} must be a non-empty string, got {_shown(value)}")
    return text(f"{where}: {key}", value)


def _required(entry: Mapping[str, Any], key: str, where: str) -> str:
    value = _string(entry, key, where)
    if value is None:
        raise InvalidInputError(f"{where}: {key} is missing")
    return value


def _string_table(entry: Mapping[str, Any], key: str, where: str) -> dict[str, str]:
    value = entry.get(key, {})
    if not isinstance(value, dict):
        raise InvalidInputError(f"{where}: {key} must be a table, got {_shown(value)}")
    for k, v in value.items():
        if not isinstance(v, str):
            raise InvalidInputError(f"{where}: {key}.{k} must be a string, got {_shown(v)}")
        text(f"{where}: {key}.{k}", v)
    return dict(value)


def _shown(value: object) -> str:
    """A TOML value with its TOML type, for messages."""
    kinds: list[tuple[type | tuple[type, ...], str]] = [
        (bool, "a boolean"), (int, "an integer"), (float, "a float"), (str, "a string"),
        (list, "an array"), (dict, "a table"), ((date, time), "a date or time"),
    ]  # fmt: skip
    kind = next((name for t, name in kinds if isinstance(value, t)), type(value).__name__)
    return f"{kind} ({value!r})" if not isinstance(value, dict | list) else kind
