"""Load and attach as one step: a failed attach leaves nothing loaded.

The backends load and attach in two operations (bpfman's core and its gRPC API
keep them apart), so the step is made whole here: whatever fails after the
load -- the attach, a ``-r`` that contradicts the program's ELF section, an
interrupt -- unloads the program again. SIGINT, SIGTERM and SIGHUP are held
while the step runs and acted on once it is complete, so they cannot strand a
program between the two operations. Only SIGKILL (or a crash of this process)
can: the program then stays loaded but not attached, an ordinary bpfman
program that ``bpfctl list`` shows and ``bpfctl unload`` removes.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator
from types import FrameType
from typing import Protocol

from bpfman.errors import BpfmanError, InvalidInputError, StateError

from .model import RETPROBE_LABELS, Hook, ListRow, Load, Loaded, Shown

HELD = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Backend(Protocol):
    """What the commands need, served by the service or by the core in-process."""

    def load(self, load: Load, hook: Hook) -> Loaded:
        """Load one program of the hook's type (all or nothing, not attached)."""

    def attach(self, program_id: int, hook: Hook) -> None:
        """Attach a loaded program."""

    def unload(self, program_id: int) -> None:
        """Detach a program's links and unload it."""

    def programs(self, all_: bool, program_type: str | None) -> list[ListRow]:
        """bpfman's programs (``all_``: every program in the kernel), by kernel type."""

    def program(self, program_id: int) -> Shown:
        """One program, bpfman's or not."""

    def pull(self, url: str, pull_policy: str, registry_auth: str | None) -> None:
        """Fill the image cache."""

    def close(self) -> None:
        """Let go of the store or the channel."""


@contextlib.contextmanager
def held_signals() -> Iterator[None]:
    """Run the body with SIGINT, SIGTERM and SIGHUP recorded, then act on the first one.

    The handlers only record: a gRPC call or a store write in flight is never
    cut short. Afterwards the previous handlers are back and the signal is
    raised again, so it ends the process as it would have (SIGINT: "interrupted").
    """
    caught: list[int] = []

    def record(signum: int, frame: FrameType | None) -> None:
        caught.append(signum)

    previous = {signum: signal.signal(signum, record) for signum in HELD}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    if caught:
        signal.raise_signal(caught[0])


def check_retprobe(hook: Hook, loaded: Loaded) -> None:
    """``-r`` must say what the program's section says: the section decides, -r confirms."""
    if hook.retprobe is None or loaded.retprobe is None or hook.retprobe == loaded.retprobe:
        return
    kind = RETPROBE_LABELS[hook.type]
    if hook.retprobe:
        raise InvalidInputError(
            f"{hook.type} -r: {loaded.name} is a {hook.type}, not a {kind}: its ELF section "
            f"decides (a {kind}/... section makes a {kind})"
        )
    raise InvalidInputError(
        f"{hook.type}: {loaded.name} is a {kind} (its ELF section says so): add -r to attach it"
    )


def load_and_attach(backend: Backend, load: Load, hook: Hook) -> int:
    """Load, check, attach; on any failure after the load, unload. Returns the id."""
    loaded = backend.load(load, hook)
    try:
        check_retprobe(hook, loaded)
        backend.attach(loaded.id, hook)
    except BaseException as exc:
        try:
            backend.unload(loaded.id)
        except BpfmanError as also:
            raise StateError(
                f"{exc}; program {loaded.id} could not be unloaded again ({also}):"
                f" remove it with `bpfctl unload {loaded.id}`"
            ) from exc
        raise
    return loaded.id
