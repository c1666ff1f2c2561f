"""Building, swapping and dropping dispatcher revisions on one hook.

Every change to a hook's set of links builds a complete new revision: a
dispatcher loaded with the new config, each program freplace-linked into its
slot, all pinned under ``<plugin dir>/dispatch-<ifindex>-<dispatcher id>/``
(libxdp's layout: ``dispatcher``, ``prog<N>-prog``, ``prog<N>-link``). Only
then is it swapped in with one atomic kernel operation, the state updated,
and, once that is committed, the previous revision's pins dropped, which
frees it. A crash before the
swap leaves at most an unreferenced revision directory, removed by the next
change of any hook of the same type (see :func:`drop_orphans`).

The state of a hook (plugin records, namespace = type name, key = hook) is::

    {"mode": "freplace" | "direct", "revision": n, "dir": pin dir or "",
     "prog_pin": what runs on the hook, "attach": plugin's record,
     "links": [link ids in slot order], "iface": ..., "netns": ...}
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from bpfman import kernel
from bpfman.core.context import AttachContext, DetachContext
from bpfman.core.errors import ConflictError
from bpfman.core.model import LinkRecord

from .flavours import MAX_PROGRAMS, Flavour, Slot
from .hook import HookOps, Installed
from .loader import load_dispatcher
from .proceed_on import proceed_on_mask

Context = AttachContext | DetachContext
DIR_PREFIX = "dispatch-"


def apply_chain(
    ctx: Context,
    flavour: Flavour,
    hook: str,
    links: list[LinkRecord],
    ops: HookOps,
    where: dict[str, Any],
) -> None:
    """Make ``hook`` run exactly ``links`` (in this order) through a dispatcher.

    :param where: ``ifindex`` plus whatever identifies the hook for humans
        (``iface``, ``netns``), kept in the state.
    """
    if len(links) > MAX_PROGRAMS:
        raise ConflictError(
            f"{flavour.name}: {where['iface']} already runs {MAX_PROGRAMS} programs, "
            f"the most one dispatcher holds: detach one first"
        )
    drop_orphans(ctx, flavour)
    state = ctx.plugin_get(flavour.name, hook)
    if not links:
        if state is not None:
            remove_hook(ctx, flavour, hook, ops)
        return
    slots = [
        Slot(proceed_on_mask(flavour, ln.params["proceed_on"]), ln.priority or 0) for ln in links
    ]
    with load_dispatcher(flavour, slots) as obj:
        fd = obj.program_fd(flavour.function)
        dispatcher_id = kernel.prog_info(fd).id
        pin_dir = ctx.plugin_dir(flavour.name) / f"{DIR_PREFIX}{where['ifindex']}-{dispatcher_id}"
        pin_dir.mkdir()
        ctx.on_rollback(lambda: drop_dir(pin_dir))
        kernel.obj_pin(fd, str(pin_dir / "dispatcher"))
        for slot, link in enumerate(links):
            _plug(ctx, fd, slot, link, pin_dir)
        previous = _installed(state)
        attach = ops.install(fd, previous)
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
        old_dir = Path(state["dir"])
        ctx.after_commit(lambda: drop_dir(old_dir))


def install_direct(
    ctx: AttachContext, flavour: Flavour, hook: str, ops: HookOps, where: dict[str, Any]
) -> None:
    """Attach the context's program alone on ``hook`` (kernels without freplace)."""
    drop_orphans(ctx, flavour)
    with ctx.program_fd() as prog:
        attach = ops.install(prog.fd, None)
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


def remove_hook(ctx: Context, flavour: Flavour, hook: str, ops: HookOps) -> None:
    """Take whatever bpfman runs on ``hook`` off it and forget the hook."""
    state = ctx.plugin_get(flavour.name, hook)
    if state is None:
        return
    ops.remove(state["attach"])
    if state.get("dir"):
        drop_dir(Path(state["dir"]))
    ctx.plugin_delete(flavour.name, hook)


def drop_orphans(ctx: Context, flavour: Flavour) -> None:
    """Remove pins in the plugin directory that no hook state refers to.

    A crash between building a revision (or attaching a first program) and
    committing the state leaves such pins; nothing else does.
    """
    base = ctx.plugin_dir(flavour.name)
    live: set[str] = set()
    for _, state in ctx.txn.plugin_items(flavour.name):
        live.add(str(state.get("dir")))
        live.update(str(v) for v in state.get("attach", {}).values())
    for entry in base.iterdir():
        if str(entry) in live:
            continue
        if entry.is_dir():
            drop_dir(entry)
        else:
            entry.unlink(missing_ok=True)


def drop_dir(path: Path) -> None:
    """Unpin every object of a revision, then the directory itself."""
    if not path.is_dir():
        return
    for entry in path.iterdir():
        entry.unlink(missing_ok=True)
    os.rmdir(path)


def _plug(ctx: Context, dispatcher_fd: int, slot: int, link: LinkRecord, pin_dir: Path) -> None:
    """freplace-link ``link``'s program into stub ``prog<slot>`` and pin both."""
    program = ctx.txn.get_program(link.program_id) or ctx.program
    btf_id = kernel.prog_func_btf_id(dispatcher_fd, f"prog{slot}")
    with kernel.obj_get(program.pin) as ext:
        with kernel.link_create(ext.fd, dispatcher_fd, 0, target_btf_id=btf_id) as flink:
            kernel.obj_pin(flink.fd, str(pin_dir / f"prog{slot}-link"))
        kernel.obj_pin(ext.fd, str(pin_dir / f"prog{slot}-prog"))


def _installed(state: dict[str, Any] | None) -> Installed | None:
    if state is None:
        return None
    return Installed(dict(state["attach"]), str(state["prog_pin"]))
