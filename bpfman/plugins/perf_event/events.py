"""Hardware and software perf events by the names ``perf list`` gives them.

Each entry is (canonical name, aliases, perf type, config), the values of
``enum perf_hw_id`` and ``enum perf_sw_ids`` in linux/perf_event.h. Software
events that never sample (``bpf-output``) are left out.
"""

from __future__ import annotations

from typing import NamedTuple

HARDWARE = 0
SOFTWARE = 1


class Event(NamedTuple):
    name: str
    kind: int
    config: int


_TABLE: tuple[tuple[str, tuple[str, ...], int, int], ...] = (
    ("cpu-cycles", ("cycles",), HARDWARE, 0),
    ("instructions", (), HARDWARE, 1),
    ("cache-references", (), HARDWARE, 2),
    ("cache-misses", (), HARDWARE, 3),
    ("branch-instructions", ("branches",), HARDWARE, 4),
    ("branch-misses", (), HARDWARE, 5),
    ("bus-cycles", (), HARDWARE, 6),
    ("stalled-cycles-frontend", ("idle-cycles-frontend",), HARDWARE, 7),
    ("stalled-cycles-backend", ("idle-cycles-backend",), HARDWARE, 8),
    ("ref-cycles", (), HARDWARE, 9),
    ("cpu-clock", (), SOFTWARE, 0),
    ("task-clock", (), SOFTWARE, 1),
    ("page-faults", ("faults",), SOFTWARE, 2),
    ("context-switches", ("cs",), SOFTWARE, 3),
    ("cpu-migrations", ("migrations",), SOFTWARE, 4),
    ("minor-faults", (), SOFTWARE, 5),
    ("major-faults", (), SOFTWARE, 6),
    ("alignment-faults", (), SOFTWARE, 7),
    ("emulation-faults", (), SOFTWARE, 8),
    ("dummy", (), SOFTWARE, 9),
    ("cgroup-switches", (), SOFTWARE, 11),
)

EVENTS: dict[str, Event] = {}
for _name, _aliases, _kind, _config in _TABLE:
    for _spelling in (_name, *_aliases):
        EVENTS[_spelling] = Event(_name, _kind, _config)

#: The names ``--event`` accepts, canonical ones first, for help texts.
NAMES = [row[0] for row in _TABLE]
