"""Placing a link on a kernel-ordered multi-program hook (tcx, netkit, cgroup).

The kernel keeps the order of the programs on such a hook; bpfman only
decides where a new link goes: just before the first recorded link that runs
after it (by priority, then attach order), or after the last one that runs
before it. A neighbour whose pin cannot be opened (removed behind bpfman's
back), or that the kernel detached (its interface went, and one with the same
index and namespace took its place), is passed over, so a ghost never
misplaces a link.
"""

from __future__ import annotations

import errno
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from bpfman.plugin import (
    DIRECTION,
    IFACE,
    NETNS,
    PRIORITY,
    AttachContext,
    AttachParams,
    KernelError,
    LinkRecord,
    LinkView,
    NotFoundError,
    TypeHandler,
    features,
    is_detached,
    kernel,
    liveness,
    shown,
    validate,
)
from bpfman.plugins.limits import MPROG_MAX, hook_limit
from bpfman.plugins.netdev import Device, resolve_ifindex


def attach_ordered(
    ctx: AttachContext,
    target: int,
    attach_type: int,
    *,
    within: Callable[[], AbstractContextManager[object]] = nullcontext,
) -> None:
    """Create the program's link on ``ctx.hook`` at its place, and pin it.

    :param target: what ``BPF_LINK_CREATE`` attaches to: an ifindex (tcx,
        netkit) or a cgroup fd.
    :param within: the context the kernel call runs in (the device's netns).
    """
    ordered, at = _ordered(ctx)
    candidates = [(kernel.BPF_F_BEFORE, link) for link in ordered[at + 1 :]]
    candidates += [(kernel.BPF_F_AFTER, link) for link in reversed(ordered[:at])]
    with ctx.program_fd() as prog:
        relative, flags = None, 0
        for flag, neighbour in candidates:
            relative = _live_link(neighbour.pin)
            if relative is not None:
                flags = flag | kernel.BPF_F_LINK
                break
        try:
            with within():
                link = kernel.link_create(
                    prog.fd,
                    target,
                    attach_type,
                    flags=flags,
                    relative_fd=relative.fd if relative else 0,
                )
        finally:
            if relative is not None:
                relative.close()
        with link:
            ctx.pin_link(link)


def _live_link(pin: str | None) -> kernel.Fd | None:
    """An fd of the link pinned at ``pin`` while the kernel still runs it on its hook."""
    if not pin:
        return None
    try:
        fd = kernel.obj_get(pin)
    except NotFoundError:
        return None
    if is_detached(kernel.link_info(fd.fd)):
        fd.close()
        return None
    return fd


def runs_last(ctx: AttachContext) -> bool:
    """Whether the new link goes after every link recorded on ``ctx.hook``."""
    ordered, at = _ordered(ctx)
    return at == len(ordered) - 1


def _ordered(ctx: AttachContext) -> tuple[list[LinkRecord], int]:
    assert ctx.hook is not None
    new = ctx.pending_link()
    ordered = sorted([*ctx.hook_links(ctx.hook), new], key=lambda link: link.order_key)
    return ordered, ordered.index(new)


@dataclass(frozen=True)
class InterfaceHookParams(AttachParams):
    """The options of an interface's multi-program hook: tcx and netkit take the same
    (each narrows ``direction`` to its own ``Literal``)."""

    direction: str = field(metadata=DIRECTION)
    iface: str = field(metadata=IFACE)
    priority: int = field(metadata=PRIORITY)
    netns: str | None = field(default=None, metadata=NETNS)

    def __post_init__(self) -> None:
        super().__post_init__()
        validate.interface_hook(self.type_name, self.iface, self.netns)


P = TypeVar("P", bound=InterfaceHookParams)


class InterfaceHookHandler(TypeHandler[P]):
    """A type whose links the kernel orders on an interface's hook (tcx, netkit).

    Subclasses name their attach type per direction and the kernel feature the
    hook is (whose refusal explains an EINVAL of an older kernel), and may explain
    more of the kernel's refusals in the user's terms.
    """

    attach_types: ClassVar[dict[str, int]]
    feature: ClassVar[features.Feature]

    def attach(self, ctx: AttachContext, params: P) -> dict[str, Any]:
        device = resolve_ifindex(params.iface, params.netns)
        ctx.hook = f"{params.type_name}/{device.key()}/{params.direction}"
        ctx.priority = params.priority
        hook = f"the {params.type_name} {params.direction} hook of {params.iface}"
        ctx.anchor = liveness.interface(device.netns.to_record(), device.ifindex)
        try:
            with hook_limit(hook, MPROG_MAX, errno.ERANGE):
                attach_ordered(
                    ctx, device.ifindex, self.attach_types[params.direction], within=device.entered
                )
        except KernelError as exc:
            raise self.explain(exc, device) from exc
        return params.to_record()

    def explain(self, exc: KernelError, device: Device) -> Exception:
        """The error to show for a refused attach (by default the kernel's own, or the
        feature's refusal)."""
        return self.feature.explain(exc)

    def describe(self, recorded: Mapping[str, Any]) -> LinkView:
        return LinkView(
            f"{recorded['iface']} {recorded['direction']}",
            [
                ("Interface", str(recorded["iface"])),
                ("Direction", str(recorded["direction"])),
                ("Priority", str(recorded["priority"])),
                ("Network Namespace", shown(recorded.get("netns"))),
            ],
        )
