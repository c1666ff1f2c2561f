"""Kernel feature probes (bpfman/kernel/features.py): what is cached, what is asked
again, and the sentences that say what is missing.

The probes here are fakes answering as a kernel would (the real ones run in
the host and VM tests of the types that need them); the running release is
set per test.
"""

from __future__ import annotations

import errno
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bpfman.dispatcher import loader
from bpfman.errors import KernelError, UnsupportedError
from bpfman.kernel import features
from bpfman.kernel.features import Feature, Support


@pytest.fixture
def release(monkeypatch: pytest.MonkeyPatch) -> Callable[[str], None]:
    def set_release(text: str) -> None:
        monkeypatch.setattr(features, "release", lambda: text)

    set_release("6.18.0-1-amd64")
    return set_release


def probe(*answers: Support | int) -> tuple[Callable[[], Support], list[int]]:
    """A probe giving ``answers`` in turn (an int: the kernel refused with that errno);
    the list counts the calls."""
    calls: list[int] = []

    def ask() -> Support:
        calls.append(1)
        answer = answers[min(len(calls), len(answers)) - 1]
        if isinstance(answer, int):
            raise KernelError("load a probe program", answer)
        return answer

    return ask, calls


@pytest.mark.parametrize(
    "transient", [errno.ENOMEM, errno.EAGAIN, errno.EMFILE, errno.ENFILE, errno.EINTR]
)
def test_a_transient_errno_is_probed_again(release: Any, transient: int) -> None:
    ask, calls = probe(transient, Support(True))
    feature = Feature("freplace", (5, 10), ask)
    first = feature.check()
    assert not first.supported and not first.conclusive
    assert first.refusal.startswith("freplace could not be probed on kernel 6.18.0-1-amd64 (")
    assert "probed again on the next use" in first.refusal
    assert feature.supported()  # asked again: the kernel has it after all
    assert feature.supported() and len(calls) == 2  # and that answer is kept


@pytest.mark.parametrize("refused", [errno.EPERM, errno.EINVAL, errno.EOPNOTSUPP, 524])
def test_a_refusal_is_conclusive_and_kept(release: Any, refused: int) -> None:
    ask, calls = probe(refused, Support(True))
    feature = Feature("freplace", (5, 10), ask)
    assert not feature.supported()
    assert not feature.supported() and len(calls) == 1
    assert feature.check().refusal.startswith(
        "freplace not supported by kernel 6.18.0-1-amd64: "
        "the kernel refused to load a probe program: "
    )


def test_a_yes_is_kept(release: Any) -> None:
    ask, calls = probe(Support(True), errno.EPERM)
    feature = Feature("tcx", (6, 6), ask)
    assert feature.supported() and feature.supported() and len(calls) == 1


def test_an_unsure_yes_is_asked_again(release: Any) -> None:
    ask, calls = probe(Support(True, conclusive=False), Support(False, "it is off"))
    feature = Feature("BPF LSM", (5, 7), ask)
    assert feature.supported()
    assert not feature.supported() and len(calls) == 2


def test_without_a_probe_the_release_decides(release: Any) -> None:
    release("6.1.0-13-amd64")
    tcx = Feature("tcx", (6, 6))
    assert tcx.check() == Support(
        False, "tcx not supported by kernel 6.1.0-13-amd64 (requires >= 6.6)"
    )
    for newer in ("6.6.0", "6.12.95+deb12-amd64", "7.0"):
        release(newer)
        assert Feature("tcx", (6, 6)).supported(), newer
    release("unknown")  # as the kernel does not say, the attach itself will
    assert Feature("tcx", (6, 6)).supported()


def test_the_release_and_the_configuration_in_the_refusal(release: Any) -> None:
    missing = Support(False, "no kprobe PMU in /sys/bus/event_source/devices")
    kprobes = Feature("kprobes", (4, 17), probe(missing)[0], needs="CONFIG_KPROBES")
    with pytest.raises(UnsupportedError) as refused:
        kprobes.require()
    assert str(refused.value) == (
        "kprobes not supported by kernel 6.18.0-1-amd64 (requires CONFIG_KPROBES): "
        "no kprobe PMU in /sys/bus/event_source/devices"
    )
    release("4.14.0")
    old = Feature("kprobes", (4, 17), probe(missing)[0], needs="CONFIG_KPROBES")
    assert old.check().refusal.startswith(
        "kprobes not supported by kernel 4.14.0 (requires >= 4.17)"
    )


def test_explain_turns_an_old_kernels_einval_into_the_refusal(release: Any) -> None:
    release("6.1.0")
    tcx = Feature("tcx", (6, 6))
    einval = KernelError("create tcx link", errno.EINVAL)
    explained = tcx.explain(einval)
    assert isinstance(explained, UnsupportedError)
    assert str(explained) == "tcx not supported by kernel 6.1.0 (requires >= 6.6)"
    ebusy = KernelError("create tcx link", errno.EBUSY)
    assert tcx.explain(ebusy) is ebusy  # not a question of the feature
    release("6.6.0")
    assert Feature("tcx", (6, 6)).explain(einval) is einval  # the kernel has it: its own error


@pytest.fixture
def lsm_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "lsm"
    monkeypatch.setattr(features, "ACTIVE_LSMS", str(path))
    monkeypatch.setattr(features.BPF_LSM, "_known", None)
    return path


def test_bpf_lsm_must_be_active(release: Any, lsm_file: Path) -> None:
    lsm_file.write_text("lockdown,capability,landlock\n")
    assert features.BPF_LSM.check() == Support(
        False,
        "BPF LSM not supported by kernel 6.18.0-1-amd64: bpf is not among its active LSMs "
        "(lockdown,capability,landlock): boot with lsm=lockdown,capability,landlock,bpf",
    )


def test_bpf_lsm_unknown_without_securityfs(release: Any, lsm_file: Path) -> None:
    assert features.BPF_LSM.check() == Support(True, conclusive=False)
    lsm_file.write_text("capability,bpf")  # securityfs mounted since: asked again
    assert features.BPF_LSM.check() == Support(True)


class FakeObject:
    """A dispatcher object that opens and loads (the kernel's yes)."""

    def __enter__(self) -> FakeObject:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def program_fd(self, name: str) -> int:
        return 3

    def set_type(self, *args: object) -> None:
        pass

    def set_attach_target(self, *args: object) -> None:
        pass

    def load(self) -> None:
        pass


@pytest.fixture
def fresh_freplace(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """The freplace probe with the template load failing with each errno of the list
    in turn (then loading), and nothing known yet."""
    failures: list[int] = []

    def load_template(flavour: object) -> FakeObject:
        if failures:
            raise KernelError("load xdp_dispatcher", failures.pop(0))
        return FakeObject()

    monkeypatch.setattr(loader, "load_template", load_template)
    monkeypatch.setattr(loader, "open_object", lambda flavour: FakeObject())
    monkeypatch.setattr(loader.FREPLACE, "_known", None)
    monkeypatch.delenv("BPFMAN_FREPLACE", raising=False)
    yield failures


def test_freplace_after_a_transient_failure(release: Any, fresh_freplace: list[int]) -> None:
    """What a service met once (ENOMEM while probing) does not stay for its life."""
    fresh_freplace.append(errno.ENOMEM)
    first = loader.freplace_support()
    assert not first.supported and "Cannot allocate memory" in first.refusal
    assert loader.freplace_support().supported


def test_freplace_refused_for_good(release: Any, fresh_freplace: list[int]) -> None:
    fresh_freplace.append(errno.EPERM)
    assert loader.freplace_support().refusal == (
        "freplace not supported by kernel 6.18.0-1-amd64: the kernel refused to load a "
        "BPF_PROG_TYPE_EXT program: Operation not permitted"
    )
    assert not loader.freplace_support().supported  # kept: the loads would succeed now


def test_bpfman_freplace_is_read_on_every_call(
    release: Any, fresh_freplace: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BPFMAN_FREPLACE", "0")
    assert loader.freplace_support() == Support(False, "freplace disabled by BPFMAN_FREPLACE=0")
    monkeypatch.delenv("BPFMAN_FREPLACE")
    assert loader.freplace_support().supported
    monkeypatch.setenv("BPFMAN_FREPLACE", "0")  # the tests switch it between commands
    assert not loader.freplace_support().supported
