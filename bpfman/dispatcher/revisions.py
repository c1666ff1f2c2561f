"""Building, swapping and dropping dispatcher revisions on one hook.

Every change to a hook's set of links builds a complete new revision: a
dispatcher loaded with the new config, each program freplace-linked into its
slot, all pinned under ``<plugin dir>/dispatch-<ifindex>-<dispatcher id>/``
(libxdp's layout: ``dispatcher``, ``prog<N>-prog``, ``prog<N>-link``). The
revision directory is journaled before it is made, then swapped in with one
atomic kernel operation (journaled by the hook), and the state updated; the
previous revision is retired, so it is dropped -- and freed -- only once the
new state is committed. A crash at any point is rolled back or forward by
the journal.

The state of a hook (plugin records, namespace = type name, key = hook) is::

    {"mode": "freplace" | "direct", "revision": n, "dir": pin dir or "",
     "prog_pin": what runs on the hook, "attach": hook's record,
     "links": [link ids in slot order], "iface": ..., "ifindex": ...,
     "netns": namespace reference, ["direction": ...]}
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from bpfman import kernel
from bpfman.core.context import AttachContext, DetachContext, RecoverContext
from bpfman.core.contract import Resource
from bpfman.core.model import LinkRecord
from bpfman.errors import ConflictError

from .flavours import MAX_PROGRAMS, Flavour, Slot
from .hook import HookOps, Installed
from .loader import load_dispatcher
from .proceed_on import proceed_on_mask

Context = AttachContext | DetachContext | RecoverContext
DIR_PREFIX = "dispatch-"


def apply_chain(
    ctx: Context,
    flavour: Flavour,
    hook: str,
    links: list[LinkRecord],
    ops: HookOps,
    where: dict[str, Any],
    proceed_on: dict[int, list[str]],
) -> None:
    """Make ``hook`` run exactly ``links`` (in this order) through a dispatcher.

    :param where: ``ifindex`` plus whatever identifies the hook (``iface``,
        ``netns``...), kept in the state.
    :param proceed_on: each link's proceed-on names, by link id.
    """
    if len(links) > MAX_PROGRAMS:
        raise ConflictError(
            f"{flavour.name}: {where['iface']} already runs {MAX_PROGRAMS} programs, "
            f"the most one dispatcher holds: detach one first"
        )
    state = ctx.plugin_get(flavour.name, hook)
    slots = [Slot(proceed_on_mask(flavour, proceed_on[ln.id]), ln.priority or 0) for ln in links]
    with load_dispatcher(flavour, slots) as obj:
        fd = obj.program_fd(flavour.function)
        dispatcher_id = kernel.prog_info(fd).id
        pin_dir = ctx.plugin_dir(flavour.name) / f"{DIR_PREFIX}{where['ifindex']}-{dispatcher_id}"
        ctx.intend(Resource.tree(pin_dir))
        os.mkdir(pin_dir, 0o700)
        kernel.obj_pin(fd, str(pin_dir / "dispatcher"))
        for slot, link in enumerate(links):
            _plug(ctx, fd, slot, link, str(pin_dir))
        attach = ops.install(fd, str(pin_dir / "dispatcher"), _installed(state))
    ctx.plugin_put(
        flavour.name,
        hook,
        {
            **where,
            "mode": "freplace",
            "revision": (state or {}).get("revision", 0) + 1,
            "dir": str(pin_dir),
            "prog_pin": str(pin_dir / "dispatcher"),
            "attach": attach,
            "links": [ln.id for ln in links],
        },
    )
    if state is not None and state.get("dir"):
        ctx.retire(Resource.tree(state["dir"]))


def install_direct(
    ctx: AttachContext, flavour: Flavour, hook: str, ops: HookOps, where: dict[str, Any]
) -> None:
    """Attach the context's program alone on ``hook`` (kernels without freplace)."""
    with ctx.program_fd() as prog:
        attach = ops.install(prog.fd, ctx.program.pin, None)
    ctx.plugin_put(
        flavour.name,
        hook,
        {
            **where,
            "mode": "direct",
            "revision": 1,
            "dir": "",
            "prog_pin": ctx.program.pin,
            "attach": attach,
            "links": [ctx.link_id],
        },
    )


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
    state = ctx.plugin_get(flavour.name, hook)
    if state is None:
        return
    for resource in ops.removal(state["attach"]):
        if release is None:
            ctx.retire(resource)
        else:
            release(resource)
    if state.get("dir"):
        ctx.retire(Resource.tree(state["dir"]))
    ctx.plugin_delete(flavour.name, hook)


def _plug(ctx: Context, dispatcher_fd: int, slot: int, link: LinkRecord, pin_dir: str) -> None:
    """freplace-link ``link``'s program into stub ``prog<slot>`` and pin both."""
    btf_id = kernel.prog_func_btf_id(dispatcher_fd, f"prog{slot}")
    with kernel.obj_get(ctx.program_pin(link.program_id)) as ext:
        with kernel.link_create(ext.fd, dispatcher_fd, 0, target_btf_id=btf_id) as flink:
            kernel.obj_pin(flink.fd, f"{pin_dir}/prog{slot}-link")
        kernel.obj_pin(ext.fd, f"{pin_dir}/prog{slot}-prog")


def _installed(state: dict[str, Any] | None) -> Installed | None:
    if state is None:
        return None
    return Installed(dict(state["attach"]), str(state["prog_pin"]))
