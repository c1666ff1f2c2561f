"""Attach a cgroup program through a bpf_link on a cgroup v2 directory.

The kernel and attach types were chosen at load from the section. Links on
one cgroup and attach type are ordered by priority, then attach order:

- Linux >= 6.16 places a link before or after another one on the same hook
  (mprog for cgroups), so bpfman places each link next to its neighbour as
  it does for tcx;
- older kernels only append, so a link that would have to run before one
  already attached is refused (detach the later ones, or attach in priority
  order) instead of being recorded at a position it does not hold.

Programs attached to a parent cgroup run after those of the cgroup itself
(the kernel's rule for multi-program cgroup hooks); priorities only order
links on the same cgroup.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Mapping
from typing import Any

from bpfman.plugin import (
    AttachContext,
    InvalidInputError,
    KernelError,
    LinkView,
    LoadContext,
    ProgramType,
    TypeHandler,
    UnsupportedError,
    features,
    kernel,
    liveness,
    program_types,
)
from bpfman.plugins.limits import CGROUP_MAX, hook_limit
from bpfman.plugins.multiprog import attach_ordered, runs_last

from .cgroupfs import open_cgroup
from .options import CgroupParams
from .sections import SECTIONS, Hook


class Cgroup(TypeHandler[CgroupParams]):
    def prepare_load(self, ctx: LoadContext) -> None:
        hook = SECTIONS.get(ctx.section)
        if hook is None:
            known = ", ".join(SECTIONS)
            hint = (
                " (cgroup/skb names no direction: use cgroup_skb/ingress or cgroup_skb/egress)"
                if ctx.section == "cgroup/skb"
                else f"; sections: {known}"
            )
            raise InvalidInputError(
                f"cgroup: the section `{ctx.section}` of {ctx.function} names no cgroup "
                f"attach type{hint}"
            )
        ctx.set_type(hook.prog_type, hook.attach_type)
        ctx.keep("attach_type", hook.attach_type)
        ctx.show("Attach Type", hook.name)

    def attach(self, ctx: AttachContext, params: CgroupParams) -> dict[str, Any]:
        attach_type = int(ctx.program.plugin_data["attach_type"])
        hook = Hook(ctx.program.kernel_type, attach_type)
        path, fd = open_cgroup(params.cgroup_path)
        try:
            st = os.fstat(fd)
            ctx.hook = f"cgroup/{st.st_dev}:{st.st_ino}/{attach_type}"
            ctx.priority = params.priority
            ctx.anchor = liveness.cgroup(path, st.st_ino)
            with hook_limit(f"the {hook.name} hook of cgroup {path}", CGROUP_MAX, errno.E2BIG):
                try:
                    attach_ordered(ctx, fd, attach_type)
                except KernelError as exc:
                    if exc.errno != errno.EINVAL or features.CGROUP_PLACEMENT.supported():
                        raise
                    _append(ctx, fd, attach_type)  # no relative placement before 6.16
        finally:
            os.close(fd)
        return {"cgroup_path": path, "priority": params.priority, "attach_type": hook.name}

    def describe(self, recorded: Mapping[str, Any]) -> LinkView:
        path, attach_type = str(recorded["cgroup_path"]), str(recorded["attach_type"])
        return LinkView(
            f"{path} {attach_type}",
            [
                ("Cgroup", path),
                ("Attach Type", attach_type),
                ("Priority", str(recorded["priority"])),
            ],
        )


PROGRAM_TYPE = ProgramType(
    "cgroup",
    # The family's first member; each program is loaded as the member its
    # section names (LoadContext.set_type), and recorded so.
    kernel.PROG_TYPE.CGROUP_SKB,
    section_prefixes=("cgroup_skb", "cgroup"),
    handler=Cgroup(),
    attach_help="Install an eBPF program on a cgroup v2 hook; "
    "the attach type comes from its section.",
)
bpfman_program_types = program_types(PROGRAM_TYPE)


def _append(ctx: AttachContext, fd: int, attach_type: int) -> None:
    """Attach at the end of the hook, on kernels that cannot place a link elsewhere."""
    if not runs_last(ctx):
        raise UnsupportedError(
            f"cgroup: {features.CGROUP_PLACEMENT.check().refusal}: the kernel runs cgroup "
            "links in attach order and cannot place one before another: detach the links "
            "that must run after this one, or give this one a higher priority"
        )
    with ctx.program_fd() as prog, kernel.link_create(prog.fd, fd, attach_type) as link:
        ctx.pin_link(link)
