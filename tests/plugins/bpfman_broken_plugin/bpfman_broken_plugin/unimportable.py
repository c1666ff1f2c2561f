"""A plugin whose module fails to import: it needs a package that is not installed."""

from __future__ import annotations

import bpfman_no_such_dependency  # type: ignore[import-not-found]  # noqa: F401
