"""The journal holds SIGINT back while it commits; off the main thread, where no signal
arrives and no handler can be set, the block just runs."""

from __future__ import annotations

import signal
import threading

import pytest

from bpfman.core.journal import _interrupts_held


def test_a_sigint_during_the_block_arrives_after_it() -> None:
    finished = []
    with pytest.raises(KeyboardInterrupt), _interrupts_held():
        signal.raise_signal(signal.SIGINT)
        finished.append(True)
    assert finished == [True]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_off_the_main_thread_the_block_runs_as_it_is() -> None:
    seen: list[object] = []

    def body() -> None:
        with _interrupts_held():
            seen.append(signal.getsignal(signal.SIGINT))

    thread = threading.Thread(target=body)
    thread.start()
    thread.join()
    assert seen == [signal.default_int_handler]
