"""The CLI's application object and error handling, free of click.

Kept apart from the click commands so the read-only fast path
(:mod:`bpfman.cli.fast`) can run ``list`` without importing click.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import errors, validate
from ..core.model import APPLICATION_KEY, APPLICATION_KEYS
from ..errors import BpfmanError
from ..inputs import parse_globals, parse_key_values
from ..kernel.limits import FD_ERRNOS, fd_error

if TYPE_CHECKING:
    import click

    from ..core.contract import AttachParams
    from ..core.manager import Bpfman
    from ..core.model import ProgramRecord
    from ..core.plugins import Plugins


class App:
    """Per-invocation state: the root, the output format and the core."""

    def __init__(
        self,
        root: Path | None,
        plugins: Plugins | None = None,
        lock_timeout: float | None = None,
    ) -> None:
        self.root = root
        self.lock_timeout = lock_timeout
        self._plugins = plugins
        self._bpfman: Bpfman | None = None
        self.output = "table"

    @property
    def bpfman(self) -> Bpfman:
        if self._bpfman is None:
            from ..core.manager import Bpfman

            self._bpfman = Bpfman(self.root, self._plugins, lock_timeout=self.lock_timeout)
        return self._bpfman

    def set_root(self, root: Path | None) -> None:
        """``--root`` after the subcommand: a core already made for another root goes."""
        if root != self.root and self._bpfman is not None:
            self._plugins = self._bpfman.plugins  # discovered already; they do not depend on it
            self.close()
        self.root = root

    def set_lock_timeout(self, seconds: float | None) -> None:
        self.lock_timeout = seconds
        if self._bpfman is not None:
            self._bpfman.lock_timeout = seconds

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

    def remove_each(
        self,
        what: str,
        done: str,
        ids: Sequence[int],
        remove: Callable[[int], None],
        ignore_missing: bool,
    ) -> int:
        """``unload`` and ``detach``: each id in its own transaction; the exit status.

        One id fails as it always did (its error raised: one line, its status).
        With several, each failure gets its line and a last line counts them;
        the status is the first failure's. A failure that no later id could
        escape (privilege, the lock, the store) ends the run at once.
        """
        failures: list[BpfmanError] = []
        for i in ids:
            try:
                remove(i)
            except (errors.PermissionDeniedError, errors.LockTimeoutError, errors.StateError):
                raise
            except BpfmanError as exc:
                missing = isinstance(exc, errors.NotFoundError) and not isinstance(
                    exc, errors.NotManagedError
                )
                if missing and ignore_missing:
                    continue
                if len(ids) == 1:
                    raise
                error(str(exc))
                failures.append(exc)
        if not failures:
            return 0
        from .exits import exit_status

        error(f"{len(failures)} of {len(ids)} {what} were not {done}")
        return exit_status(failures[0])


def with_application(metadata: dict[str, str], application: str | None) -> dict[str, str]:
    """Record ``--application`` as metadata unless either key was given already."""
    merged = dict(metadata)
    if application and not any(key in merged for key in APPLICATION_KEYS):
        merged[APPLICATION_KEY] = validate.text("application", application)
    return merged


def verbose_logging() -> None:
    """``-v``: debug messages, libbpf's too, on stderr."""
    import logging

    logging.basicConfig(level=logging.DEBUG, format="%(levelname)s %(name)s: %(message)s")


def lock_timeout(value: str) -> float:
    """``--lock-timeout`` / ``BPFMAN_LOCK_TIMEOUT``: seconds, a finite number >= 0."""
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or seconds < 0:
        raise errors.InvalidInputError(f"{value!r} is not a number of seconds >= 0")
    return seconds


def error(message: str) -> None:
    with suppress(BrokenPipeError):  # nobody reads stderr (2>&1 | head): the status still tells
        print(f"Error: {message}", file=sys.stderr)


def guarded(run: Callable[[], int], verbose: bool) -> int:
    """Run a command; every failure becomes one stderr line and an exit status.

    Ctrl-C is always ``Error: interrupted`` and 130 (the core has undone what
    it had not recorded). A reader of stdout that leaves early is no failure:
    the output ends there and the status is 0, whether or not a write came
    after it left (a matter of timing).
    """
    try:
        code = run()
        if sys.stdout is not None:  # None: started with stdout closed; print() wrote nothing
            sys.stdout.flush()  # here, not at exit: a closed pipe must reach this handler
        return code
    except BpfmanError as exc:
        from .exits import exit_status  # the table is built only for a failure

        if verbose:
            import logging

            logging.getLogger("bpfman").debug("error", exc_info=True)
        error(str(exc))
        return exit_status(exc)
    except KeyboardInterrupt:
        error("interrupted")
        return 130
    except BrokenPipeError as exc:
        if not _reader_left():
            return _internal(exc, verbose)
        import os

        # Python flushes stdout again at exit: let that go nowhere.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:
        if isinstance(exc, OSError) and exc.errno in FD_ERRNOS:  # an import, a file: no fd left
            from .exits import exit_status

            failure = fd_error(f"open {exc.filename}" if exc.filename else "bpfman", exc.errno)
            error(str(failure))
            return exit_status(failure)
        return _internal(exc, verbose)


def run_click(
    command: click.Command,
    args: list[str],
    prog_name: str,
    obj: object = None,
    no_args: Callable[[click.exceptions.NoArgsIsHelpError], int] | None = None,
) -> int:
    """Run a click command of an entry point under :func:`guarded`, outside click's
    standalone mode: a usage error is one stderr line and click's status (``no_args``
    answers a group called bare), ``ctx.exit(CODE)`` exits CODE, and Ctrl-C and a
    closed stdout carried past click (:func:`past_click`) are handled as anywhere."""
    import click

    def run() -> int:
        try:
            status = command.main(args, prog_name=prog_name, standalone_mode=False, obj=obj)
            return status if isinstance(status, int) else 0
        except click.exceptions.Exit as exc:
            return int(exc.exit_code)
        except click.ClickException as exc:
            if no_args is not None and isinstance(exc, click.exceptions.NoArgsIsHelpError):
                return no_args(exc)
            error(" ".join(exc.format_message().split()))
            return exc.exit_code
        except click.Abort as exc:  # Ctrl-C in click's own few lines, outside past_click
            if isinstance(exc.__cause__, KeyboardInterrupt):
                raise exc.__cause__ from None
            error("aborted")
            return 1
        except _Carried as exc:
            raise exc.original from None

    return guarded(run, verbose="-v" in args or "--verbose" in args)


class _Carried(Exception):
    """An exception on its way past click's handlers, re-raised by :func:`run_click`."""

    def __init__(self, original: BaseException) -> None:
        super().__init__(str(original))
        self.original = original


@contextmanager
def past_click() -> Iterator[None]:
    """Carry Ctrl-C and a closed stdout past click, which would print "Aborted!" or
    exit 1 silently, to :func:`guarded`."""
    try:
        yield
    except (KeyboardInterrupt, BrokenPipeError) as exc:
        raise _Carried(exc) from exc


def _internal(exc: Exception, verbose: bool) -> int:
    if verbose:
        raise exc
    error(f"internal error: {type(exc).__name__}: {exc} (run with -v)")
    return 70


def _reader_left() -> bool:
    """Whether stdout is a pipe or socket whose reader has gone."""
    import select

    poll = select.poll()
    poll.register(sys.stdout.fileno(), select.POLLOUT)
    return any(events & (select.POLLERR | select.POLLHUP) for _, events in poll.poll(0))
