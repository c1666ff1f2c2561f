"""Expecting bpfman's one-line errors by their exact text."""

from __future__ import annotations

import re
from contextlib import AbstractContextManager

import pytest

from bpfman.errors import BpfmanError, InvalidInputError


def refused(
    message: str, error: type[BpfmanError] = InvalidInputError
) -> AbstractContextManager[pytest.ExceptionInfo[BpfmanError]]:
    """``pytest.raises(error)`` whose message contains ``message`` literally (no regex)."""
    return pytest.raises(error, match=re.escape(message))
