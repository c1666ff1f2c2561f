"""The ``io.ebpf.*`` labels of an image config.

Current images carry ``io.ebpf.programs`` (``{"func": "type"}``) and
``io.ebpf.maps`` (``{"map": "map type"}``). Older ones describe a single
program with ``io.ebpf.bpf_function_name``, ``io.ebpf.program_type``,
``io.ebpf.program_name`` and ``io.ebpf.filename``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bpfman.errors import ImageError

PROGRAMS = "io.ebpf.programs"
MAPS = "io.ebpf.maps"
V1_FUNCTION = "io.ebpf.bpf_function_name"
V1_TYPE = "io.ebpf.program_type"
V1_FILENAME = "io.ebpf.filename"


@dataclass(frozen=True)
class Labels:
    """What an image says it holds."""

    programs: dict[str, str]
    maps: dict[str, str]
    filename: str | None


def read_labels(config: Mapping[str, Any], image: str) -> Labels:
    """The labels of an image config; an image with neither label set is an error."""
    inner = config.get("config") or config.get("container_config") or {}
    labels = inner.get("Labels") if isinstance(inner, dict) else None
    if not isinstance(labels, dict):
        labels = {}
    filename = labels.get(V1_FILENAME)
    filename = filename if isinstance(filename, str) and filename else None
    if PROGRAMS in labels:
        programs = _json_map(labels[PROGRAMS], PROGRAMS, image)
        maps = _json_map(labels[MAPS], MAPS, image) if labels.get(MAPS) else {}
        return Labels(programs, maps, filename)
    function, prog_type = labels.get(V1_FUNCTION), labels.get(V1_TYPE)
    if isinstance(function, str) and function and isinstance(prog_type, str) and prog_type:
        return Labels({function: prog_type}, {}, filename)
    raise ImageError(
        f"image {image} is not a bytecode image: its config has no {PROGRAMS} label"
        f" (nor {V1_FUNCTION}/{V1_TYPE})"
    )


def make_labels(programs: Mapping[str, str], maps: Mapping[str, str]) -> dict[str, str]:
    """Labels as ``image build`` writes them (compact JSON, like the build args)."""
    return {PROGRAMS: _compact(programs), MAPS: _compact(maps)}


def _compact(obj: Mapping[str, str]) -> str:
    return json.dumps(dict(obj), separators=(",", ":"))


def _json_map(text: Any, label: str, image: str) -> dict[str, str]:
    try:
        obj = json.loads(text) if isinstance(text, str) else None
    except ValueError:
        obj = None
    if not isinstance(obj, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in obj.items()
    ):
        raise ImageError(f"image {image}: label {label} is not a JSON object of strings")
    return obj
