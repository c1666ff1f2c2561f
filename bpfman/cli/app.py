"""The CLI's application object and error handling, free of click.

Kept apart from the click commands so the read-only fast path
(:mod:`bpfman.cli.fast`) can run ``list`` without importing click.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core import errors
from ..core.errors import BpfmanError
from ..inputs import parse_globals, parse_key_values, with_application
from ..kernel.limits import FD_ERRNOS, fd_error

if TYPE_CHECKING:
    from ..core.contract import AttachParams
    from ..core.manager import Bpfman
    from ..core.model import ProgramRecord
    from ..core.plugins import Plugins


class App:
    """Per-invocation state: the root, the output format and the core."""

    def __init__(self, root: Path | None, plugins: Plugins | None = None) -> None:
        self.root = root
        self._plugins = plugins
        self._bpfman: Bpfman | None = None
        self.output = "table"

    @property
    def bpfman(self) -> Bpfman:
        if self._bpfman is None:
            from ..core.manager import Bpfman

            self._bpfman = Bpfman(self.root, self._plugins)
        return self._bpfman

    def close(self) -> None:
        """Let go of the store (the CLI's entry point may run in a longer-lived process)."""
        if self._bpfman is not None:
            self._bpfman.close()
            self._bpfman = None

    def emit(self, text: str, data: Any) -> None:
        if self.output == "json":
            from .output import dumps

            print(dumps(data))
        elif text:
            print(text)

    def show_programs(self, ids: Sequence[int]) -> None:
        """``load`` output: every loaded program (a JSON list)."""
        from .output import program_json, program_text

        details = [self.bpfman.get_program(i) for i in ids]
        self.emit("\n\n".join(program_text(d) for d in details), [program_json(d) for d in details])

    def show_program(self, program_id: int) -> None:
        """``get program`` output (a JSON object, like ``get link``)."""
        from .output import program_json, program_text

        details = self.bpfman.get_program(program_id)
        self.emit(program_text(details), program_json(details))

    def show_link(self, link_id: int) -> None:
        from .output import link_json, link_text

        details = self.bpfman.get_link(link_id)
        self.emit(link_text(details), link_json(details))

    def load(
        self,
        load: Callable[..., list[ProgramRecord]],
        programs: Sequence[str],
        global_: Sequence[str] = (),
        application: str | None = None,
        metadata: Sequence[str] = (),
        map_owner_id: int | None = None,
    ) -> None:
        """``load file`` and ``load image``: the shared options parsed, then ``load`` called.

        ``load`` is :meth:`Bpfman.load_file` or :meth:`Bpfman.load_image` with
        its source bound.
        """
        records = load(
            list(programs),
            globals=parse_globals(global_),
            metadata=with_application(parse_key_values(metadata), application),
            map_owner_id=map_owner_id,
        )
        self.show_programs([r.id for r in records])

    def attach(self, program_id: int, params: AttachParams, metadata: dict[str, str]) -> None:
        link = self.bpfman.attach(program_id, params, metadata=metadata)
        self.show_link(link.id)

    def list_programs(
        self,
        program_type: str | None = None,
        application: str | None = None,
        metadata_selector: Sequence[str] = (),
        all_: bool = False,
    ) -> None:
        from .output import programs_table, summary_json

        rows = self.bpfman.list_programs(
            all=all_,
            kernel_type=program_type,
            application=application,
            selector=parse_key_values(metadata_selector, "metadata selector"),
        )
        self.emit(programs_table(rows), [summary_json(r) for r in rows])

    def list_links(
        self,
        program_type: str | None = None,
        application: str | None = None,
        metadata_selector: Sequence[str] = (),
    ) -> None:
        from .output import link_json, links_table

        rows = self.bpfman.list_links(
            kernel_type=program_type,
            application=application,
            selector=parse_key_values(metadata_selector, "metadata selector"),
        )
        self.emit(links_table(rows), [link_json(d) for d in rows])


# The exit status of each error class; a subclass takes its nearest listed base's.
EXIT_STATUS: dict[type[BpfmanError], int] = {
    errors.InvalidInputError: 2,
    errors.NotFoundError: 3,
    errors.PermissionDeniedError: 4,
    errors.UnsupportedError: 5,
    errors.ConflictError: 6,
    errors.StateError: 7,
    errors.ImageError: 8,
    errors.KernelError: 9,
}


def exit_status(exc: BpfmanError) -> int:
    """The status ``bpfman`` exits with after ``exc`` (1 for a class not listed)."""
    return next((EXIT_STATUS[c] for c in type(exc).__mro__ if c in EXIT_STATUS), 1)


def error(message: str) -> None:
    print(f"Error: {message}", file=sys.stderr)


def guarded(run: Callable[[], int], verbose: bool) -> int:
    """Run a command; every failure becomes one stderr line and an exit status."""
    try:
        return run()
    except BpfmanError as exc:
        if verbose:
            import logging

            logging.getLogger("bpfman").debug("error", exc_info=True)
        error(str(exc))
        return exit_status(exc)
    except KeyboardInterrupt:
        error("interrupted")
        return 130
    except BrokenPipeError:
        # The reader went away (bpfman list | head): stop quietly, as ls does.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except Exception as exc:
        if isinstance(exc, OSError) and exc.errno in FD_ERRNOS:  # an import, a file: no fd left
            failure = fd_error(f"open {exc.filename}" if exc.filename else "bpfman", exc.errno)
            error(str(failure))
            return exit_status(failure)
        if verbose:
            raise
        error(f"internal error: {type(exc).__name__}: {exc} (run with -v)")
        return 70
