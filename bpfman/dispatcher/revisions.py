"""Building, swapping and dropping dispatcher revisions on one hook.

Every change to a hook's set of links builds a complete new revision: a
dispatcher loaded with the new config, each program freplace-linked into its
slot, all pinned under ``<plugin dir>/dispatch-<ifindex>-<dispatcher id>/``
(libxdp's layout: ``dispatcher``, ``prog<N>-prog``, ``prog<N>-link``). The
revision directory is journaled before it is made, then swapped in with one
atomic kernel operation (journaled by the hook), and the state updated; the
previous revision is retired, so it is dropped -- and freed -- only once the
new state is committed. A crash at any point is rolled back or forward by
the journal. The hook's state is a :class:`~.state.HookState`.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from bpfman import kernel
from bpfman.core.context import AttachContext, DetachContext, RecoverContext
from bpfman.core.contract import Resource
from bpfman.core.model import LinkRecord
from bpfman.errors import ConflictError

from .flavours import MAX_PROGRAMS, Flavour, Slot
from .hook import HookOps
from .loader import load_dispatcher
from .proceed_on import proceed_on_mask
from .state import DIRECT, FREPLACE, HookState, Where, hook_state, put_hook_state

Context = AttachContext | DetachContext | RecoverContext
DIR_PREFIX = "dispatch-"


def apply_chain(
    ctx: Context,
    flavour: Flavour,
    hook: str,
    links: list[LinkRecord],
    ops: HookOps,
    where: Where,
    proceed_on: dict[int, list[str]],
) -> HookState:
    """Make ``hook`` run exactly ``links`` (in this order) through a dispatcher.

    :param proceed_on: each link's proceed-on names, by link id.
    :returns: the hook's new state (recorded).
    """
    if len(links) > MAX_PROGRAMS:
        raise ConflictError(
            f"{flavour.name}: {where.iface} already runs {MAX_PROGRAMS} programs, "
            f"the most one dispatcher holds: detach one first"
        )
    previous = hook_state(ctx, flavour.name, hook)
    slots = [Slot(proceed_on_mask(flavour, proceed_on[ln.id]), ln.priority or 0) for ln in links]
    with load_dispatcher(flavour, slots) as obj:
        fd = obj.program_fd(flavour.function)
        dispatcher_id = kernel.prog_info(fd).id
        pin_dir = ctx.plugin_dir(flavour.name) / f"{DIR_PREFIX}{where.ifindex}-{dispatcher_id}"
        prog_pin = str(pin_dir / "dispatcher")
        ctx.intend(Resource.tree(pin_dir))
        os.mkdir(pin_dir, 0o700)
        kernel.obj_pin(fd, prog_pin)
        for slot, link in enumerate(links):
            _plug(ctx, fd, slot, link, str(pin_dir))
        attach = ops.install(fd, prog_pin, previous)
    revision = (previous.revision if previous is not None else 0) + 1
    state = HookState(
        FREPLACE, revision, str(pin_dir), prog_pin, attach, tuple(ln.id for ln in links), where
    )
    put_hook_state(ctx, flavour.name, hook, state)
    if previous is not None and previous.dir:
        ctx.retire(Resource.tree(previous.dir))
    return state


def install_direct(
    ctx: AttachContext, flavour: Flavour, hook: str, ops: HookOps, where: Where
) -> HookState:
    """Attach the context's program alone on ``hook`` (kernels without freplace).

    :returns: the hook's state (recorded).
    """
    with ctx.program_fd() as prog:
        attach = ops.install(prog.fd, ctx.program.pin, None)
    state = HookState(DIRECT, 1, "", ctx.program.pin, attach, (ctx.link_id,), where)
    put_hook_state(ctx, flavour.name, hook, state)
    return state


def remove_hook(
    ctx: Context,
    flavour: Flavour,
    hook: str,
    ops: HookOps,
    release: Callable[[Resource], None] | None = None,
) -> None:
    """Take whatever bpfman runs on ``hook`` off it and forget the hook.

    ``release``: remove what held the program on the hook at once, with this,
    instead of once the change is committed.
    """
    state = hook_state(ctx, flavour.name, hook)
    if state is None:
        return
    for resource in ops.removal(state.attach):
        if release is None:
            ctx.retire(resource)
        else:
            release(resource)
    if state.dir:
        ctx.retire(Resource.tree(state.dir))
    ctx.plugin_delete(flavour.name, hook)


def _plug(ctx: Context, dispatcher_fd: int, slot: int, link: LinkRecord, pin_dir: str) -> None:
    """freplace-link ``link``'s program into stub ``prog<slot>`` and pin both."""
    btf_id = kernel.prog_func_btf_id(dispatcher_fd, f"prog{slot}")
    with kernel.obj_get(ctx.program_pin(link.program_id)) as ext:
        with kernel.link_create(ext.fd, dispatcher_fd, 0, target_btf_id=btf_id) as flink:
            kernel.obj_pin(flink.fd, f"{pin_dir}/prog{slot}-link")
        kernel.obj_pin(ext.fd, f"{pin_dir}/prog{slot}-prog")
