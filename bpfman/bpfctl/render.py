"""The guide's output: the ``list`` table and ``get``'s "Bpfd State" and "Kernel State".

bpfd gave each program one attachment, so "Bpfd State" shows the program and
its attachment merged (priority, iface, position...); a program bpfman
attached several times shows each link's rows in turn. Tables and blocks are
bpfman's own (:mod:`bpfman.cli.output`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bpfman.cli.output import Value, block, table
from bpfman.kernel.info import LOADED_AT_FORMAT

from .model import BpfdFacts, LinkFacts, ListRow, Shown

if TYPE_CHECKING:
    from bpfman.kernel.info import ProgInfo

# The guide abbreviates a tc direction ("Direction:     eg").
DIRECTIONS = {"ingress": "in", "egress": "eg"}


def programs_table(rows: list[ListRow]) -> str:
    return table(
        ["Program ID", "Name", "Type", "Load Time"],
        [[str(r.id), r.name, r.type, r.loaded_at] for r in rows],
    )


def shown_text(shown: Shown) -> str:
    if shown.bpfd is None:
        bpfd = f" Bpfd State\n{'-' * 15}\nNONE"
    else:
        bpfd = block("Bpfd State", 15, bpfd_rows(shown.bpfd))
    parts = [bpfd]
    if shown.kernel is not None:
        parts.append(block("Kernel State", 34, kernel_rows(shown.kernel)))
    return "\n\n".join(parts)


def _or_none(value: object) -> str:
    return "None" if value is None or value == "" else str(value)


def bpfd_rows(facts: BpfdFacts) -> list[tuple[str, Value]]:
    rows: list[tuple[str, Value]] = [("Name", facts.name), *facts.source]
    rows += [
        ("Global", facts.globals or "None"),
        ("Metadata", facts.metadata or "None"),
        ("Map Pin Path", facts.map_pin_path),
        ("Map Owner ID", _or_none(facts.map_owner_id)),
        ("Map Used By", [str(i) for i in facts.map_used_by] or "None"),
    ]
    unseen = [str(link.id) for link in facts.links if link.params is None]
    for link in facts.links:
        if link.params is not None:
            rows += link_rows(link)
    if unseen:  # a service without bpfman.v1's link_details extension names ids only
        rows.append(("Links", unseen))
    return rows


def link_rows(link: LinkFacts) -> list[tuple[str, Value]]:
    """One attachment's rows, labelled as the guide labels them."""
    params = link.params or {}
    position = "NONE" if link.position is None else str(link.position)
    probe = link.type[0] + ("retprobe" if params.get("retprobe") else "probe")
    proceed_on = ", ".join(params.get("proceed_on") or []) or "None"
    rows: dict[str, list[tuple[str, Value]]] = {
        "xdp": [
            ("Priority", _or_none(params.get("priority"))),
            ("Iface", _or_none(params.get("iface"))),
            ("Position", position),
            ("Proceed On", proceed_on),
        ],
        "tc": [
            ("Priority", _or_none(params.get("priority"))),
            ("Iface", _or_none(params.get("iface"))),
            ("Position", position),
            ("Direction", DIRECTIONS.get(str(params.get("direction")), "None")),
            ("Proceed On", proceed_on),
        ],
        "tracepoint": [("Tracepoint", _or_none(params.get("tracepoint")))],
        "kprobe": [
            ("Probe Type", probe),
            ("Function Name", _or_none(params.get("fn_name"))),
            ("Offset", str(params.get("offset") or 0)),
        ],
        "uprobe": [
            ("Probe Type", probe),
            ("Function Name", _or_none(params.get("fn_name"))),
            ("Offset", str(params.get("offset") or 0)),
            ("Target", _or_none(params.get("target"))),
            ("PID", _or_none(params.get("pid"))),
        ],
    }
    return rows.get(link.type) or [("Attachment", f"{link.type} {link.attachment}".strip())]


def kernel_rows(info: ProgInfo) -> list[tuple[str, Value]]:
    return [
        ("ID", str(info.id)),
        ("Name", _or_none(info.name)),
        ("Type", info.type_name),
        ("Loaded At", info.loaded_at.strftime(LOADED_AT_FORMAT)),
        ("Tag", info.tag),
        ("GPL Compatible", str(info.gpl_compatible).lower()),
        ("Map IDs", "[" + ", ".join(str(i) for i in info.map_ids) + "]"),
        ("BTF ID", str(info.btf_id)),
        ("Size Translated (bytes)", str(info.xlated_len)),
        ("JITed", str(info.jited).lower()),
        ("Size JITed (bytes)", str(info.jited_len)),
        ("Kernel Allocated Memory (bytes)", str(info.memlock)),
        ("Verified Instruction Count", str(info.verified_insns)),
    ]
