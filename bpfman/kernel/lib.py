"""Lazy access to libbpf and libc through cffi in (out-of-line) ABI mode.

Nothing is loaded at import: the first call to :func:`binding` takes the
pre-parsed declarations (:mod:`bpfman.kernel._ffi`), dlopens ``libbpf.so.1``
and installs a print callback, so that importing bpfman stays cheap and
libbpf never writes to the terminal.
"""

from __future__ import annotations

import _thread
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from bpfman.logs import get_logger

log = get_logger("bpfman.libbpf")

LIBBPF_WARN = 0

# va_list is an array type on x86_64, so it reaches the callback as a pointer
# that vsnprintf can consume; elsewhere we keep the unformatted text.
_CAN_FORMAT = os.uname().machine == "x86_64"
_MESSAGE_MAX = 4096


class Binding:
    """The FFI and the two libraries loaded through it (a plain class: a dataclass
    costs every command that touches the kernel half a millisecond to build)."""

    __slots__ = ("bpf", "callback", "ffi", "libc")

    def __init__(self, ffi: Any, bpf: Any, libc: Any, callback: Any) -> None:
        self.ffi = ffi
        self.bpf = bpf
        self.libc = libc
        self.callback = callback  # kept referenced: libbpf holds a raw pointer to it


_lock = _thread.allocate_lock()  # threading's Lock, without importing threading
_binding: Binding | None = None
_captures: list[list[str]] = []


def binding() -> Binding:
    """The process-wide binding, built on first use."""
    global _binding
    if _binding is None:
        with _lock:
            if _binding is None:
                _binding = _build()
    return _binding


def _build() -> Binding:
    # The declarations of cdefs.py, parsed ahead of time (see build_ffi.py).
    from bpfman.kernel._ffi import ffi

    bpf = ffi.dlopen("libbpf.so.1")
    libc = ffi.dlopen(None)

    def on_message(level: int, fmt: Any, ap: Any) -> int:
        _record(ffi, libc, level, fmt, ap)
        return 0

    callback = ffi.callback("libbpf_print_fn_t", on_message, error=0, onerror=_callback_failed)
    bpf.libbpf_set_print(callback)
    return Binding(ffi, _Interruptible(bpf), libc, callback)


# Ctrl-C that came while libbpf was calling back into Python (main thread only).
_interrupted: list[BaseException] = []


def _callback_failed(kind: type[BaseException], error: BaseException, tb: Any) -> None:
    """cffi cannot let an exception out of a callback: keep a Ctrl-C for the caller."""
    if isinstance(error, KeyboardInterrupt):
        _interrupted.append(error)
    else:
        log.debug("libbpf's print callback failed: %s: %s", kind.__name__, error)


class _Interruptible:
    """libbpf's functions, each raising once it returns a Ctrl-C its callback kept.

    Otherwise cffi would print the KeyboardInterrupt raised in the print
    callback and go on: the command would finish as if nobody had pressed it.
    """

    def __init__(self, lib: Any) -> None:
        self._lib = lib

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._lib, name)
        if callable(value):
            value = _reraising(value)
        setattr(self, name, value)  # looked up once
        return value


def _reraising(function: Any) -> Any:
    def call(*args: Any) -> Any:
        result = function(*args)
        if _interrupted:
            interrupt = _interrupted.pop()
            _interrupted.clear()
            raise interrupt
        return result

    return call


def _record(ffi: Any, libc: Any, level: int, fmt: Any, ap: Any) -> None:
    """Format one libbpf message and hand it to captures and the logger."""
    if level > LIBBPF_WARN and not log.is_debug():
        return  # only warnings are captured; skip formatting the chatter
    if _CAN_FORMAT:
        buf = ffi.new("char[]", _MESSAGE_MAX)
        libc.vsnprintf(buf, _MESSAGE_MAX, fmt, ap)
        text = ffi.string(buf).decode("utf-8", "replace")
    else:
        text = ffi.string(fmt).decode("utf-8", "replace")
    text = text.rstrip("\n")
    if level <= LIBBPF_WARN:
        for capture in _captures:
            capture.append(text)
    log.debug("%s", text)


@contextmanager
def capture_libbpf_messages() -> Iterator[list[str]]:
    """Collect libbpf's warnings emitted inside the block (for error details)."""
    messages: list[str] = []
    _captures.append(messages)
    try:
        yield messages
    finally:
        _captures.remove(messages)
