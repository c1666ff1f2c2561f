"""RUST_LOG's directives as the service's log levels (bpfman/service/levels.py)."""

from __future__ import annotations

import logging

import pytest

from bpfman.service.levels import OFF, Levels, rust_log


@pytest.mark.parametrize(
    ("spec", "levels"),
    [
        ("info", Levels(logging.INFO, {})),
        ("TRACE", Levels(logging.DEBUG, {})),
        ("bpfman=debug,info", Levels(logging.INFO, {"bpfman": logging.DEBUG})),
        (" warn , bpfman::csi = error ", Levels(logging.WARNING, {"bpfman.csi": logging.ERROR})),
        ("bpfman", Levels(None, {"bpfman": logging.DEBUG})),
        ("off,bpfman=info,bpfman=warn", Levels(OFF, {"bpfman": logging.WARNING})),
        ("", Levels(None, {})),
    ],
)
def test_directives(spec: str, levels: Levels) -> None:
    assert rust_log(spec) == levels


def test_what_is_malformed_is_ignored_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="bpfman.service"):
        assert rust_log("bpfman=loud,=debug,debug/foo.*") == Levels(logging.DEBUG, {})
    warnings = [r.getMessage() for r in caplog.records]
    assert warnings[0] == "RUST_LOG: the filter /foo.* is not supported; logging without it"
    assert warnings[1].startswith("RUST_LOG: ignoring 'bpfman=loud' (expected LEVEL,")
    assert warnings[2].startswith("RUST_LOG: ignoring '=debug'")
    assert len(warnings) == 3
