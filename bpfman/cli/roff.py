"""Help text as roff (man(7) macros): the man pages' typesetting and nothing else.

Help texts are written for a terminal: hard-wrapped prose, blank lines between
paragraphs, and lines that must stay lines (``Example: ...``, ``Format ...``,
``[possible values: ...]``, the commands under an ``Example:`` heading). Prose is
left to roff to fill; the rest is set so that it reads and copies as ``--help``
shows it: examples unfilled, and option names and values never hyphenated nor
broken at their dashes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

# A word naming an option: -p, --map-owner-id, possibly after an opening bracket or quote.
_OPTION = re.compile(r"^([(\[`'\"]*)(--?[A-Za-z][\w-]*)")
_HEADINGS = ("Example:", "Examples:")
_LITERAL = ("Example:", "Format")


def escape(text: str) -> str:
    """Backslashes, and a line that would read as a request."""
    text = text.replace("\\", "\\e")
    return "\\&" + text if text.startswith((".", "'")) else text


def literal(line: str) -> str:
    """A line set as it is (a command, an example): every dash a minus, as typed."""
    return escape(line).replace("-", "\\-")


def words(line: str, bracket: bool = False) -> str:
    """A line of filled text. Option names get minus signs, `quoted` commands are
    bold. These words are never hyphenated nor broken at a dash: those with a dash
    (an option, ``cgroup-switches``), in backquotes, or in brackets (``[possible
    values: ...]``, ``[default: ...]``; ``bracket``: the line starts in one)."""
    out = []
    quoted = False
    for word in escape(line).split(" "):
        found = _OPTION.match(word)
        if found:
            lead, name = found.groups()
            word = lead + name.replace("-", "\\-") + word[found.end() :]
        bracket = bracket or "[" in word
        unbroken = bracket or quoted or "-" in word or "`" in word
        bracket = bracket and "]" not in word
        if line.count("`") % 2 == 0:
            for _ in range(word.count("`")):
                word = word.replace("`", "\\fR" if quoted else "\\fB", 1)
                quoted = not quoted
        if word and unbroken:
            word = "\\%" + word
        out.append(word)
    return " ".join(out)


def bold(name: str) -> str:
    """A name typed as it is (``--map-owner-id``, a page) in bold, unbreakable."""
    return "\\%\\fB" + name.replace("-", "\\-") + "\\fR"


def metavar(text: str) -> str:
    """``<PATH>...`` in italics (the dots not)."""
    name, bracket, dots = text.rpartition(">")
    return f"\\fI{escape(name + bracket)}\\fR{dots}" if bracket else f"\\fI{escape(text)}\\fR"


def term(pieces: list[str]) -> str:
    """A usage piece (``--path <PATH>``, ``[OPTIONS]``, ``<ID>...``) as one unbreakable word."""
    out = []
    for piece in pieces:
        if piece.startswith("-"):
            out.append(bold(piece))
        elif piece.startswith("<"):
            out.append(metavar(piece))
        elif piece.startswith("[") and piece.endswith("]"):
            out.append(f"[\\fI{escape(piece[1:-1])}\\fR]")
        else:
            out.append(f"\\fB{escape(piece)}\\fR")
    return "\\ ".join(out)


def blocks(text: str) -> Iterator[list[str]]:
    """The paragraphs of a help text: runs of lines between blank lines."""
    block: list[str] = []
    for line in text.splitlines():
        if line.strip():
            block.append(line.rstrip())
        elif block:
            yield block
            block = []
    if block:
        yield block


def split_examples(text: str) -> tuple[str, list[list[str]]]:
    """A help text without its ``Example:`` paragraphs, and their command lines."""
    kept, examples = [], []
    for block in blocks(text):
        if block[0].strip() in _HEADINGS and len(block) > 1:
            indent = min(len(line) - len(line.lstrip()) for line in block[1:])
            examples.append([line[indent:] for line in block[1:]])
        else:
            kept.append("\n".join(block))
    return "\n\n".join(kept), examples


def body(text: str, paragraph: str = ".PP") -> list[str]:
    """A help text as roff lines; ``paragraph`` separates its paragraphs (``.IP``
    under a ``.TP`` item keeps them at the item's indent)."""
    out: list[str] = []
    for n, block in enumerate(blocks(text)):
        bullet = block[0].startswith("* ")
        if n and not bullet:
            out.append(paragraph)
        out += _block(block)
    return out


def example(lines: list[str]) -> list[str]:
    """Lines of an example, unfilled and indented."""
    return [".RS 4", ".EX", *(literal(line) for line in lines), ".EE", ".RE"]


def _block(block: list[str]) -> list[str]:
    out: list[str] = []
    unfilled = under_heading = False
    brackets = 0  # opened and not yet closed, in the lines so far
    for i, line in enumerate(block):
        is_literal = under_heading or line.startswith(_LITERAL)
        if is_literal != unfilled:
            out.append(".EX" if is_literal else ".EE")
            unfilled = is_literal
        if is_literal:
            out.append(literal(line))
            under_heading = under_heading or line.strip() in _HEADINGS
            continue
        text = line.strip()
        if i == 0 and text.startswith("* "):
            out.append(".IP \\(bu 2")
            text = text[2:]
        elif text.startswith("[") and i and out[-1] != ".EE":
            out.append(".br")
        out.append(words(text, bracket=brackets > 0))
        brackets += text.count("[") - text.count("]")
    if unfilled:
        out.append(".EE")
    return out
