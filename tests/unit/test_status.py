"""The gRPC status each failure becomes: chosen by the error's class, never by its text."""

from __future__ import annotations

import errno

import grpc
import pytest

from bpfman.errors import (
    BpfmanError,
    ImageError,
    KernelError,
    LockTimeoutError,
    NotManagedError,
    RegistryAuthError,
    RegistryUnreachableError,
)
from bpfman.serving.status import NotServedError, status_of

Code = grpc.StatusCode


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (RegistryAuthError("registry r.example refused the credentials"), Code.PERMISSION_DENIED),
        (RegistryUnreachableError("no route to r.example"), Code.UNAVAILABLE),
        # An image failure whose text reads like one of those is still just an image failure.
        (ImageError("unauthorized: is what the label says"), Code.FAILED_PRECONDITION),
        (ImageError("cannot reach registry, says the manifest"), Code.FAILED_PRECONDITION),
        (LockTimeoutError("busy"), Code.UNAVAILABLE),
        (NotManagedError("not ours"), Code.FAILED_PRECONDITION),
        (NotServedError("no plugin"), Code.FAILED_PRECONDITION),
        (KernelError("attach", errno.EBUSY), Code.ALREADY_EXISTS),
        (
            KernelError("load", errno.EACCES, verifier_log="R1 invalid mem access"),
            Code.INVALID_ARGUMENT,
        ),
    ],
)
def test_status_by_class(error: BpfmanError, code: grpc.StatusCode) -> None:
    assert status_of(error) == (code, str(error))


def test_registry_errors_are_image_errors() -> None:
    """The CLI's exit status (8, an image failure) and callers' ``except ImageError`` still hold."""
    assert issubclass(RegistryAuthError, ImageError)
    assert issubclass(RegistryUnreachableError, ImageError)


def test_anything_else_is_internal() -> None:
    assert status_of(ValueError("boom")) == (Code.INTERNAL, "internal error: ValueError: boom")
