"""The gRPC status a failure becomes, for every gRPC face of bpfman.

The bpfman.v1 service and the CSI node plugin answer a failed call with a
status code chosen by the error's class (the kind of failure the CLI turns
into an exit status) and the one-line message the CLI prints.
"""

from __future__ import annotations

import errno

import grpc

from bpfman.errors import (
    BpfmanError,
    ConflictError,
    ImageError,
    InvalidInputError,
    KernelError,
    LimitExceededError,
    LockTimeoutError,
    NotFoundError,
    NotManagedError,
    PermissionDeniedError,
    RegistryAuthError,
    RegistryUnreachableError,
    UnsupportedError,
)


class NotServedError(BpfmanError):
    """A valid request this bpfman cannot serve (no plugin for the type)."""


Code = grpc.StatusCode
# The code of each error class, the first that matches (a subclass before its base);
# kernel errors are told apart by their errno, and any other failure is INTERNAL.
CODES: tuple[tuple[type[BpfmanError], Code], ...] = (
    (LimitExceededError, Code.RESOURCE_EXHAUSTED),
    (LockTimeoutError, Code.UNAVAILABLE),  # nothing started: the client may retry
    (NotManagedError, Code.FAILED_PRECONDITION),
    (NotServedError, Code.FAILED_PRECONDITION),
    (UnsupportedError, Code.FAILED_PRECONDITION),
    (NotFoundError, Code.NOT_FOUND),
    (InvalidInputError, Code.INVALID_ARGUMENT),
    (PermissionDeniedError, Code.PERMISSION_DENIED),
    (ConflictError, Code.ALREADY_EXISTS),
    (RegistryAuthError, Code.PERMISSION_DENIED),
    (RegistryUnreachableError, Code.UNAVAILABLE),
    (ImageError, Code.FAILED_PRECONDITION),
)


def status_of(exc: BaseException) -> tuple[grpc.StatusCode, str]:
    """The gRPC status for an exception raised while serving a request."""
    if not isinstance(exc, BpfmanError):
        return Code.INTERNAL, f"internal error: {type(exc).__name__}: {exc}"
    if isinstance(exc, KernelError):
        return _kernel_code(exc), str(exc)
    return next((code for kind, code in CODES if isinstance(exc, kind)), Code.INTERNAL), str(exc)


def _kernel_code(exc: KernelError) -> grpc.StatusCode:
    if exc.verifier_log:
        return grpc.StatusCode.INVALID_ARGUMENT  # the verifier refused the program
    if exc.errno in (errno.EPERM, errno.EACCES):
        return grpc.StatusCode.PERMISSION_DENIED
    if exc.errno in (errno.ENOENT, errno.ENODEV, errno.ESRCH):
        return grpc.StatusCode.NOT_FOUND
    if exc.errno in (errno.EEXIST, errno.EBUSY):
        return grpc.StatusCode.ALREADY_EXISTS
    if exc.errno in (errno.EINVAL, errno.E2BIG):
        return grpc.StatusCode.INVALID_ARGUMENT
    if exc.errno in (errno.EOPNOTSUPP, 524):  # 524: the kernel's ENOTSUPP
        return grpc.StatusCode.FAILED_PRECONDITION
    return grpc.StatusCode.INTERNAL
