"""Text and JSON renderings of programs and links, in the guide's shapes.

Tables have no borders and a leading space per cell; detail blocks are
``Label:`` lines whose values line up. JSON output carries the same facts
with stable keys and real types, for scripts.
"""

from __future__ import annotations

from ..core.model import shown

TYPE_CHECKING = False  # ``list`` imports this module: neither typing nor the manager
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    from ..core.manager import LinkDetails, ProgramDetails
    from ..core.model import ProgramSummary
    from ..kernel.info import ProgInfo

Value = str | list[str]


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns as wide as their widest cell; one format string pads each row (a third
    of the time of padding cell by cell, for 1,000 rows)."""
    widths = [max(map(len, column)) for column in zip(headers, *rows, strict=True)]
    line = " " + "  ".join(f"{{:<{width}}}" for width in widths)
    return "\n".join(line.format(*row).rstrip() for row in [headers, *rows])


def block(title: str, rule: int, rows: Sequence[tuple[str, Value]]) -> str:
    width = max(len(label) for label, _ in rows) + 3
    lines = [f" {title}", "-" * rule]
    for label, value in rows:
        values = value if isinstance(value, list) else [value]
        values = values or ["None"]
        lines.append(f" {(label + ':').ljust(width)}{values[0]}".rstrip())
        lines.extend(" " * (width + 1) + extra for extra in values[1:])
    return "\n".join(lines)


def _pairs(mapping: dict[str, str], given_order: bool = False) -> Value:
    items = mapping.items() if given_order else sorted(mapping.items())
    return [f"{k}={v}" for k, v in items] or "None"


def links_cell(ids: Sequence[int]) -> str:
    if not ids:
        return ""
    shown = ", ".join(str(i) for i in ids[:3])
    more = ", ..." if len(ids) > 3 else ""
    return f"({len(ids)}) {shown}{more}"


def programs_table(rows: Sequence[ProgramSummary]) -> str:
    return table(
        ["Program ID", "Application", "Type", "Function Name", "Links"],
        [[str(r.id), r.application, r.type, r.name, links_cell(r.link_ids)] for r in rows],
    )


def links_table(rows: Sequence[LinkDetails]) -> str:
    return table(
        ["Program ID", "Link ID", "Application", "Type", "Function Name", "Attachment"],
        [
            [
                str(d.program.id),
                str(d.link.id),
                d.program.application,
                d.link.type,
                d.program.name,
                d.view.attachment,
            ]
            for d in rows
        ],
    )


def program_text(details: ProgramDetails) -> str:
    parts = []
    record = details.record
    if record is not None:
        rows: list[tuple[str, Value]] = [
            ("BPF Function", record.name),
            ("Program Type", record.type),
        ]
        if "image_url" in record.source:
            rows.append(("Image URL", record.source["image_url"]))
            rows.append(("Pull Policy", record.source.get("pull_policy", "IfNotPresent")))
        else:
            rows.append(("Path", record.source.get("path", "None")))
        rows += record.shown_rows
        rows += [
            ("Global", _pairs(record.globals, given_order=True)),
            ("Metadata", _pairs(record.metadata)),
            ("Map Pin Path", record.map_pin_path),
            ("Map Owner ID", shown(record.map_owner_id)),
            ("Maps Used By", ", ".join(str(i) for i in details.maps_used_by) or "None"),
            ("Links", [f"{d.link.id} ({d.view.attachment})" for d in details.links] or "None"),
        ]
        parts.append(block("Bpfman State", 15, rows))
    info = details.kernel
    if info is not None:
        from ..kernel.info import LOADED_AT_FORMAT  # not on list's path

        parts.append(
            block(
                "Kernel State",
                34,
                [
                    ("Program ID", str(info.id)),
                    ("BPF Function", info.name),
                    ("Kernel Type", info.type_name),
                    ("Loaded At", info.loaded_at.strftime(LOADED_AT_FORMAT)),
                    ("Tag", info.tag),
                    ("GPL Compatible", str(info.gpl_compatible).lower()),
                    ("Map IDs", "[" + ", ".join(str(i) for i in info.map_ids) + "]"),
                    ("BTF ID", str(info.btf_id)),
                    ("Size Translated (bytes)", str(info.xlated_len)),
                    ("JITted", str(info.jited).lower()),
                    ("Size JITted", str(info.jited_len)),
                    ("Kernel Allocated Memory (bytes)", str(info.memlock)),
                    ("Verified Instruction Count", str(info.verified_insns)),
                    *run_stats_rows(info.run_cnt, info.run_time_ns),
                ],
            )
        )
    return "\n".join(parts)


STATS_HINT = (
    "statistics may be off: `bpfman system stats --enable` or sysctl kernel.bpf_stats_enabled=1"
)


def run_stats_rows(run_cnt: int, run_time_ns: int) -> list[tuple[str, Value]]:
    """Run Count and Run Time; a hint when nothing was counted and the sysctl is off
    (a process holding BPF_ENABLE_STATS does not show in the sysctl)."""
    from ..kernel.stats import stats_sysctl  # not at import: `list` must stay light

    count = str(run_cnt)
    if run_cnt == 0 and not stats_sysctl():
        count += f" ({STATS_HINT})"
    return [("Run Count", count), ("Run Time", f"{run_time_ns} ns")]


def link_text(details: LinkDetails) -> str:
    rows: list[tuple[str, Value]] = [
        ("BPF Function", details.program.name),
        ("Program Type", details.link.type),
        ("Program ID", str(details.program.id)),
        ("Link ID", str(details.link.id)),
        *details.view.rows,
        ("Metadata", _pairs(details.link.metadata)),
    ]
    return block("Bpfman State", 15, rows)


# -- JSON -------------------------------------------------------------------
def program_json(details: ProgramDetails) -> dict[str, Any]:
    out: dict[str, Any] = {"id": details.id}
    record = details.record
    if record is not None:
        out["bpfman"] = {
            "function": record.name,
            "type": record.type,
            "source": record.source,
            "attach_function": record.plugin_data.get("attach_func"),
            "globals": record.globals,
            "metadata": record.metadata,
            "map_pin_path": record.map_pin_path,
            "map_owner_id": record.map_owner_id,
            "maps_used_by": details.maps_used_by,
            "links": [link_json(d) for d in details.links],
        }
    if details.kernel is not None:
        out["kernel"] = kernel_json(details.kernel)
    return out


def kernel_json(info: ProgInfo) -> dict[str, Any]:
    """The kernel's view of a program under bpfman.v1's names, with its run statistics."""
    from ..kernel.info import API_FIELDS
    from ..kernel.stats import stats_sysctl

    return {
        "id": info.id,
        "name": info.name,
        "type": info.type_name,
        "loaded_at": info.loaded_at.isoformat(),
        **{name: getattr(info, attr) for name, attr in API_FIELDS.items()},
        "run_cnt": info.run_cnt,
        "run_time_ns": info.run_time_ns,
        "bpf_stats_enabled": stats_sysctl(),
    }


def summary_json(row: ProgramSummary) -> dict[str, Any]:
    return {
        "id": row.id,
        "application": row.application or None,
        "type": row.type,
        "function": row.name,
        "links": row.link_ids,
        "managed": row.managed,
    }


def link_json(details: LinkDetails) -> dict[str, Any]:
    return {
        "id": details.link.id,
        "program_id": details.program.id,
        "type": details.link.type,
        "function": details.program.name,
        "application": details.program.application or None,
        "attachment": details.view.attachment,
        "position": details.position,
        "detached": details.detached,
        "params": details.link.params,
        "metadata": details.link.metadata,
    }


def dumps(value: Any) -> str:
    import json

    return json.dumps(value, indent=2, sort_keys=False)
