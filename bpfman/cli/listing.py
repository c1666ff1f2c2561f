"""What ``list programs`` and ``list links`` print, from their command-line options.

The app asks the manager (:meth:`~bpfman.core.manager.Bpfman.list_programs`);
the fast path asks :func:`bpfman.core.listing.healthy`'s snapshot, with
neither click, the manager nor typing imported. Both go through here, so
the two cannot read an option differently.
"""

from __future__ import annotations

from .output import dumps, link_json, links_table, programs_table, summary_json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    from ..core.model import LinkDetails, ProgramSummary

    ProgramQuery = Callable[..., list[ProgramSummary]]  # Bpfman.list_programs or Queries'
    LinkQuery = Callable[..., list[LinkDetails]]


def programs_text(
    query: ProgramQuery,
    output: str,
    program_type: str | None = None,
    application: str | None = None,
    metadata_selector: Sequence[str] = (),
    selector: Sequence[str] = (),
    attached: bool = False,
    unattached: bool = False,
    all_: bool = False,
    quiet: bool = False,
) -> str:
    """``list programs``: the ids (``-q``, whatever ``--output`` says), JSON or the table."""
    from ..core.filters import Selector
    from ..errors import InvalidInputError

    if attached and unattached:
        raise InvalidInputError("--attached and --unattached exclude each other")
    conditions = Selector.of(_pairs(metadata_selector))
    for text in selector:
        conditions &= Selector.parse(text)
    rows = query(
        all=all_,
        kernel_type=program_type,
        application=application,
        selector=conditions,
        attached=True if attached else False if unattached else None,
    )
    if quiet:
        return _ids(row.id for row in rows)
    return dumps([summary_json(r) for r in rows]) if output == "json" else programs_table(rows)


def links_text(
    query: LinkQuery,
    output: str,
    program_id: int | None = None,
    kind: Sequence[str] = (),
    program_type: str | None = None,
    application: str | None = None,
    metadata_selector: Sequence[str] = (),
    quiet: bool = False,
) -> str:
    """``list links``: the ids (``-q``, whatever ``--output`` says), JSON or the table."""
    rows = query(
        kernel_type=program_type,
        application=application,
        selector=_pairs(metadata_selector),
        program_id=program_id,
        kind=list(kind) or None,
    )
    if quiet:
        return _ids(d.link.id for d in rows)
    return dumps([link_json(d) for d in rows]) if output == "json" else links_table(rows)


def show(text: str) -> None:
    """Print what a listing says, if anything (``-q`` with nothing found prints nothing)."""
    if text:
        print(text)


def _ids(ids: Iterable[int]) -> str:
    """``-q``: the ids alone, one a line, whatever ``--output`` says."""
    return "\n".join(map(str, ids))


def _pairs(items: Sequence[str]) -> dict[str, str]:
    """``--metadata-selector`` items (the parser only when there are some: it imports typing)."""
    if not items:
        return {}
    from ..inputs import parse_key_values

    return parse_key_values(items, "metadata selector")
