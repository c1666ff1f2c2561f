"""The hook implementations the xdp and tc plugins share, parameterised by flavour.

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
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bpfman import kernel
from bpfman.core.context import AttachContext, DetachContext, LinkView
from bpfman.core.errors import ConflictError
from bpfman.core.model import LinkRecord

from .flavours import Flavour
from .hook import HookOps
from .loader import freplace_support, load_template
from .proceed_on import normalise
from .revisions import apply_chain, install_direct, remove_hook

FREPLACE = "freplace"
DIRECT = "direct"

_templates: dict[str, kernel.BpfObject] = {}


def prepare_load(flavour: Flavour, function: str, obj: kernel.BpfObject) -> dict[str, Any]:
    """Load the program as an extension of a stub when freplace works here."""
    if not freplace_support().supported:
        return {"dispatch": DIRECT}
    template = _templates.get(flavour.name)
    if template is None:
        template = _templates[flavour.name] = load_template(flavour)
    # Extensions take no expected attach type (libbpf sets BPF_XDP for SEC("xdp")).
    obj.set_type(function, kernel.PROG_TYPE.EXT, 0)
    obj.set_attach_target(function, "prog0", template.program_fd(flavour.function))
    return {"dispatch": FREPLACE}


def attach(
    ctx: AttachContext,
    flavour: Flavour,
    hook: str,
    params: dict[str, Any],
    ops: HookOps,
    where: dict[str, Any],
) -> dict[str, Any]:
    """Add the context's program to ``hook``; returns the params to record."""
    params = {**params, "proceed_on": normalise(flavour, params.get("proceed_on") or [])}
    ctx.hook = hook
    ctx.priority = int(params["priority"])
    mode = ctx.program.plugin_data.get("dispatch", DIRECT)
    params["dispatch"] = mode
    if mode == FREPLACE:
        links = sorted(
            [*ctx.hook_links(hook), ctx.pending_link(params)], key=lambda ln: ln.order_key
        )
        apply_chain(ctx, flavour, hook, links, ops, where)
        return params
    existing = ctx.hook_links(hook)
    if existing:
        support = freplace_support()
        raise ConflictError(
            f"{flavour.name}: {_hook_text(params)} already runs program "
            f"{existing[0].program_id} (link {existing[0].id}); {support.refusal}, "
            f"so bpfman attaches one program per hook: detach it first"
        )
    install_direct(ctx, flavour, hook, ops, where)
    return params


def detach(
    ctx: DetachContext,
    flavour: Flavour,
    ops_for: Callable[[dict[str, Any]], tuple[HookOps, bool]],
) -> bool:
    """Remove the context's link from its hook, rebuilding the chain without it.

    ``ops_for(state)`` gives the hook's operations and whether its interface
    still exists; when it (or its namespace) is gone, only bpfman's pins and
    state are left to remove.
    """
    link = ctx.link
    hook = link.hook or ""
    state = ctx.plugin_get(flavour.name, hook)
    if state is None:
        return True
    ops, alive = ops_for(state)
    remaining = [ln for ln in ctx.hook_links(hook) if ln.id != link.id]
    if not alive or state["mode"] == DIRECT or not remaining:
        remove_hook(ctx, flavour, hook, ops)
        return True
    where = {k: v for k, v in state.items() if k in ("ifindex", "iface", "netns", "direction")}
    apply_chain(ctx, flavour, hook, remaining, ops, where)
    return True


def describe(link: LinkRecord, position: int | None, direction: bool) -> LinkView:
    """``IFACE [DIRECTION] pos-N`` and the ``get link`` rows."""
    p = link.params
    mode = "dispatcher (freplace)" if p.get("dispatch") == FREPLACE else "direct (one per hook)"
    rows = [("Interface", str(p["iface"]))]
    if direction:
        rows.append(("Direction", str(p["direction"])))
    rows += [
        ("Priority", str(p["priority"])),
        ("Position", str(position)),
        ("Proceed On", ", ".join(p.get("proceed_on", []))),
        ("Network Namespace", str(p.get("netns") or "None")),
        ("Mode", mode),
    ]
    return LinkView(f"{_hook_text(p)} pos-{position}", rows, {**p, "position": position})


def _hook_text(params: dict[str, Any]) -> str:
    if "direction" in params:
        return f"{params['iface']} {params['direction']}"
    return str(params["iface"])
