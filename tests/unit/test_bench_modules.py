"""Every benchmark module imports: `make bench` is not part of `make test`, so a
helper renamed under it would otherwise go unnoticed until someone measures."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench"


@pytest.mark.parametrize("name", sorted(p.stem for p in BENCH.glob("*.py") if p.stem != "__init__"))
def test_bench_module_imports(name: str) -> None:
    module = importlib.import_module(f"bench.{name}")
    assert callable(module.main)


def test_bench_service_prints_the_container_and_csi_figures() -> None:
    """Issue 17 asks bench/service for the container's cold start and the CSI publish
    latency: it measures them with the modules that also run alone."""
    import inspect

    service = importlib.import_module("bench.service")
    body = inspect.getsource(service.main)
    for name in ("container", "csi"):
        assert getattr(service, name) is importlib.import_module(f"bench.{name}")
        assert f"{name}.report(*{name}.measure(" in body
    assert "cold start to the first answered List" in service.container.report(1.0, 0.5)
    assert "publish of 1 map(s) vs a plain bpffs pin" in service.csi.report(0.004, 0.00002)
