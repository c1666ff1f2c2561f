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
    StateError,
    UnsupportedError,
)


class NotServedError(BpfmanError):
    """A valid request this bpfman cannot serve (no plugin for the type)."""


def status_of(exc: BaseException) -> tuple[grpc.StatusCode, str]:
    """The gRPC status for an exception raised while serving a request."""
    if not isinstance(exc, BpfmanError):
        return grpc.StatusCode.INTERNAL, f"internal error: {type(exc).__name__}: {exc}"
    message = str(exc)
    code = grpc.StatusCode.INTERNAL
    if isinstance(exc, LimitExceededError):
        code = grpc.StatusCode.RESOURCE_EXHAUSTED
    elif isinstance(exc, LockTimeoutError):
        code = grpc.StatusCode.UNAVAILABLE  # nothing started: the client may retry
    elif isinstance(exc, NotManagedError | NotServedError | UnsupportedError):
        code = grpc.StatusCode.FAILED_PRECONDITION
    elif isinstance(exc, NotFoundError):
        code = grpc.StatusCode.NOT_FOUND
    elif isinstance(exc, InvalidInputError):
        code = grpc.StatusCode.INVALID_ARGUMENT
    elif isinstance(exc, PermissionDeniedError):
        code = grpc.StatusCode.PERMISSION_DENIED
    elif isinstance(exc, ConflictError):
        code = grpc.StatusCode.ALREADY_EXISTS
    elif isinstance(exc, RegistryAuthError):
        code = grpc.StatusCode.PERMISSION_DENIED
    elif isinstance(exc, RegistryUnreachableError):
        code = grpc.StatusCode.UNAVAILABLE
    elif isinstance(exc, ImageError):
        code = grpc.StatusCode.FAILED_PRECONDITION
    elif isinstance(exc, KernelError):
        code = _kernel_code(exc)
    elif isinstance(exc, StateError):
        code = grpc.StatusCode.INTERNAL
    return code, message


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
