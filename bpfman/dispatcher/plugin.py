"""The handler the xdp and tc plugins share, parameterised by flavour.

How user programs get into slots: in freplace mode a program is loaded as
BPF_PROG_TYPE_EXT, verified against stub ``prog0`` of a *template*
dispatcher this process loads once; every revision then links the same
program into its slot with ``BPF_LINK_CREATE(target_fd, target_btf_id)``.
The kernel drops its reference to the template at the program's first
attach. In direct mode (the kernel refuses freplace) programs load as their
own type and run alone on their hook.

Order on a hook: ascending priority; equal priorities run in attach order
(the core's ``(priority, seq)`` order key), so positions are stable and a
newcomer never jumps ahead of an equal-priority link already there.

A hook whose interface went away behind bpfman's back runs nothing. Its links
read as detached (each records its interface, and the XDP link holding the
hook, as its anchor); ``detach`` and ``system recover`` drop them, and so does
an attach to the same hook key (an interface re-created with the same index in
the same namespace), which starts the hook afresh.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from bpfman import kernel
from bpfman.core import liveness
from bpfman.core.bpffs import entries, is_pinned
from bpfman.core.context import AttachContext, DetachContext, LoadContext, RecoverContext
from bpfman.core.contract import AttachParams, LinkView, Resource, TypeHandler
from bpfman.core.model import LinkRecord
from bpfman.errors import ConflictError, NotFoundError
from bpfman.kernel.namespaces import NetnsRef
from bpfman.logs import get_logger

from .flavours import Flavour, Slot
from .hook import HookOps
from .loader import freplace_support, load_template
from .proceed_on import normalise, proceed_on_mask, proceed_on_names
from .revisions import DIR_PREFIX, Context, apply_chain, install_direct, remove_hook
from .state import DIRECT, FREPLACE, HookState, Where, hook_state, hook_states, put_hook_state

P = TypeVar("P", bound=AttachParams)
log = get_logger(__name__)

_templates: dict[str, kernel.BpfObject] = {}


@dataclass(frozen=True)
class FoundHook:
    """A hook bpfman runs something on, found in the kernel (lost-store recovery).

    :param where: the interface and namespace, as :meth:`DispatcherHandler.hook_of`
        gives them (plus the direction for tc).
    :param attach: the hook's record (what :meth:`HookOps.removal` needs).
    :param running: the id of the program the hook runs.
    """

    where: Where
    attach: dict[str, Any]
    running: int


class DispatcherHandler(TypeHandler[P]):
    """A type whose programs share a hook through a dispatcher (xdp, tc)."""

    flavour: ClassVar[Flavour]

    # -- what a flavour's plugin supplies ---------------------------------------
    def hook_of(self, ctx: AttachContext, params: P) -> tuple[str, Where, HookOps]:
        """The hook key, the identity recorded with it, and its kernel operations."""
        raise NotImplementedError

    def ops_for(self, ctx: Context, state: HookState) -> tuple[HookOps, bool]:
        """A recorded hook's operations, and whether its interface still exists."""
        raise NotImplementedError

    def release_hook(self, resource: Resource) -> None:
        """Release one of the flavour's own resource kinds."""
        raise NotImplementedError

    def hook_key(self, where: Where) -> str:
        """The state key of the hook ``where`` names."""
        raise NotImplementedError

    def found_hooks(self, ctx: RecoverContext, ours: set[int]) -> list[FoundHook]:
        """Hooks running one of the programs ``ours`` (bpfman's pins), found in the kernel."""
        raise NotImplementedError

    def extras(self, attach: Mapping[str, Any]) -> dict[str, Any]:
        """What the flavour records with each link besides the shared params, from the
        hook's record (:attr:`HookState.attach`)."""
        return {}

    def held_by(self, attach: Mapping[str, Any]) -> str | None:
        """The pinned bpf_link that holds the hook's program there, if there is one."""
        return None

    # -- the shared behaviour ---------------------------------------------------
    def prepare_load(self, ctx: LoadContext) -> None:
        """Load the program as an extension of a stub when freplace works here."""
        if not freplace_support().supported:
            ctx.keep("dispatch", DIRECT)
            return
        flavour = self.flavour
        template = _templates.get(flavour.name)
        if template is None:
            template = _templates[flavour.name] = load_template(flavour)
        # Extensions take no expected attach type (libbpf sets BPF_XDP for SEC("xdp")).
        ctx.obj.set_type(ctx.function, kernel.PROG_TYPE.EXT, 0)
        ctx.obj.set_attach_target(ctx.function, "prog0", template.program_fd(flavour.function))
        ctx.keep("dispatch", FREPLACE)

    def attach(self, ctx: AttachContext, params: P) -> dict[str, Any]:
        """Add the context's program to its hook; returns the params to record."""
        flavour = self.flavour
        recorded = params.to_record()
        recorded["proceed_on"] = normalise(flavour, recorded.get("proceed_on") or [])
        hook, where, ops = self.hook_of(ctx, params)
        ctx.hook = hook
        ctx.priority = int(recorded["priority"])
        mode = ctx.program.plugin_data.get("dispatch", DIRECT)
        recorded["dispatch"] = mode
        previous = hook_state(ctx, flavour.name, hook)
        if previous is not None:
            old, alive = self._recorded_hook(ctx, previous)
            if not alive:  # the same interface key, but what bpfman ran there went with it
                self._drop_hook(ctx, hook, old, ctx.hook_links(hook), now=True)
        existing = ctx.hook_links(hook)
        if mode == FREPLACE:
            new = ctx.pending_link()
            links = sorted([*existing, new], key=lambda ln: ln.order_key)
            proceed_on = {ln.id: list(ln.params.get("proceed_on", [])) for ln in existing}
            proceed_on[new.id] = recorded["proceed_on"]
            state = apply_chain(ctx, flavour, hook, links, ops, where, proceed_on)
        elif existing:
            raise ConflictError(
                f"{flavour.name}: {_hook_text(recorded)} already runs program "
                f"{existing[0].program_id} (link {existing[0].id}); "
                f"{freplace_support().refusal}, so bpfman attaches one program per hook: "
                "detach it first"
            )
        else:
            state = install_direct(ctx, flavour, hook, ops, where)
        ctx.anchor = liveness.interface(where.netns, where.ifindex, self.held_by(state.attach))
        return {**recorded, **self.extras(state.attach)}

    def detach(self, ctx: DetachContext) -> None:
        """Remove the link from its hook, rebuilding the chain without it.

        When the interface (or its namespace) is gone, so is what ran on it,
        for every link of the hook: only bpfman's pins and records are left
        to remove, the other links' records included.
        """
        flavour = self.flavour
        hook = ctx.link.hook or ""
        state = hook_state(ctx, flavour.name, hook)
        if state is None:
            return
        ops, alive = self._recorded_hook(ctx, state)
        remaining = [ln for ln in ctx.hook_links(hook) if ln.id != ctx.link.id]
        if not alive or ops is None:
            self._drop_hook(ctx, hook, ops, remaining, now=False)
            return
        if state.mode == DIRECT or not remaining:
            remove_hook(ctx, flavour, hook, ops)
            return
        proceed_on = {ln.id: list(ln.params.get("proceed_on", [])) for ln in remaining}
        apply_chain(ctx, flavour, hook, remaining, ops, state.where, proceed_on)

    def describe(self, recorded: Mapping[str, Any]) -> LinkView:
        """``IFACE [DIRECTION]`` and the ``get link`` rows (the core adds the position)."""
        mode = recorded.get("dispatch")
        rows = [("Interface", str(recorded["iface"]))]
        if "direction" in recorded:
            rows.append(("Direction", str(recorded["direction"])))
        rows += [
            ("Priority", str(recorded["priority"])),
            ("Proceed On", ", ".join(recorded.get("proceed_on", []))),
            ("Network Namespace", str(recorded.get("netns") or "None")),
            ("Mode", "dispatcher (freplace)" if mode == FREPLACE else "direct (one per hook)"),
        ]
        return LinkView(_hook_text(recorded), rows)

    def release(self, resource: Resource) -> None:
        self.release_hook(resource)

    def reconcile(self, ctx: RecoverContext) -> None:
        """Drop hooks whose dispatcher or attachment is gone; remove unrecorded pins."""
        flavour = self.flavour
        live: set[str] = set()
        for hook, state in hook_states(ctx, flavour.name):
            ops, alive = self._recorded_hook(ctx, state)
            if not alive:
                self._drop_hook(ctx, hook, ops, ctx.hook_links(hook), now=False)
                continue
            live.add(state.dir)
            live.update(str(v) for v in state.attach.values())
        for entry in entries(ctx.plugin_dir(flavour.name)):
            if entry.path in live:
                continue
            if entry.name.startswith(DIR_PREFIX) and entry.is_dir(follow_symlinks=False):
                log.warning("%s: removing unrecorded revision %s", flavour.name, entry.path)
                ctx.retire(Resource.tree(entry.path))
            else:
                self.orphan(ctx, entry.path)

    def adopt(self, ctx: RecoverContext) -> list[str]:
        """Rebuild the hooks, their chains and links from the kernel and the revisions."""
        flavour = self.flavour
        revisions: dict[int, str] = {}
        for entry in entries(ctx.plugin_dir(flavour.name)):
            if entry.name.startswith(DIR_PREFIX) and is_pinned(f"{entry.path}/dispatcher"):
                revisions[_pinned_id(f"{entry.path}/dispatcher")] = entry.path
        ours = set(revisions) | set(ctx.pinned_programs())
        lines = []
        for found in self.found_hooks(ctx, ours):
            pin_dir = revisions.get(found.running, "")
            if pin_dir:
                mode, prog_pin = FREPLACE, f"{pin_dir}/dispatcher"
                slots = flavour.parse_config(_dispatcher_config(prog_pin))
                ids = [_pinned_id(f"{pin_dir}/prog{i}-prog") for i in range(len(slots))]
            else:
                mode, prog_pin = DIRECT, ""
                slots = [Slot(proceed_on_mask(flavour, []), 1000)]
                ids = [found.running]
            hook = self.hook_key(found.where)
            link_ids = []
            for prog_id, slot in zip(ids, slots, strict=True):
                program = ctx.program(prog_id)
                if program is None:
                    ctx.note(f"{flavour.name}: program {prog_id} on {hook} has no pin; not adopted")
                    continue
                program.type = flavour.name
                program.plugin_data["dispatch"] = mode
                prog_pin = prog_pin or program.pin
                ctx.put_program(program)
                params: dict[str, Any] = {
                    "iface": found.where.iface,
                    "priority": slot.priority,
                    "proceed_on": proceed_on_names(flavour, slot.mask),
                    "netns": NetnsRef.from_record(found.where.netns).path,
                    "dispatch": mode,
                    **({"direction": found.where.direction} if found.where.direction else {}),
                    **self.extras(found.attach),
                }
                link = ctx.adopt_link(
                    program,
                    params,
                    self.describe(params),
                    hook=hook,
                    priority=slot.priority,
                    anchor=liveness.interface(
                        found.where.netns, found.where.ifindex, self.held_by(found.attach)
                    ),
                )
                link_ids.append(link.id)
            state = HookState(
                mode, 1, pin_dir, prog_pin, found.attach, tuple(link_ids), found.where
            )
            put_hook_state(ctx, flavour.name, hook, state)
            lines.append(f"adopted the {flavour.name} hook {hook} ({len(link_ids)} program(s))")
        return lines

    def orphan(self, ctx: RecoverContext, path: str) -> None:
        """An unrecorded entry in the plugin's directory (the flavour may know it)."""
        log.warning("%s: ignoring %s: not something bpfman made", self.flavour.name, path)

    def _recorded_hook(self, ctx: Context, state: HookState) -> tuple[HookOps | None, bool]:
        """A recorded hook's operations (None: its namespace is gone), and whether it
        still runs what bpfman put there."""
        try:
            ops, alive = self.ops_for(ctx, state)
        except NotFoundError:
            return None, False
        if alive and is_pinned(state.prog_pin):
            alive = ops.alive(state.attach)
        return ops, alive

    def _drop_hook(
        self, ctx: Context, hook: str, ops: HookOps | None, links: list[LinkRecord], now: bool
    ) -> None:
        """Forget a hook that runs nothing any more, and ``links``, recorded on it.

        ``now``: release what is left of it at once rather than after the commit,
        since an attach is about to make the same objects (pins, filter handles) again.
        """
        flavour = self.flavour
        log.warning("%s: hook %s is gone from the kernel; dropping it", flavour.name, hook)
        for link in links:
            ctx.forget_link(link, f"its {flavour.name} hook is gone")
        if ops is None:
            ctx.plugin_delete(flavour.name, hook)
        else:
            remove_hook(ctx, flavour, hook, ops, release=self.release if now else None)


def _pinned_id(path: str) -> int:
    with kernel.obj_get(path) as fd:
        return kernel.prog_info(fd.fd).id


def _dispatcher_config(prog_pin: str) -> bytes:
    """The frozen config of a loaded dispatcher, read back from its .rodata map."""
    with kernel.obj_get(prog_pin) as prog:
        for map_id in kernel.prog_info(prog.fd).map_ids:
            with kernel.map_fd_by_id(map_id) as fd:
                info = kernel.map_info(fd.fd)
                if info.name.endswith(".rodata"):
                    return kernel.map_lookup(fd.fd, bytes(4), info.value_size)
    raise NotFoundError(f"dispatcher {prog_pin} has no config")


def _hook_text(params: Mapping[str, Any]) -> str:
    if "direction" in params:
        return f"{params['iface']} {params['direction']}"
    return str(params["iface"])
