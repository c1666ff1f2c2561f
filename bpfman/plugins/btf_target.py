"""What the lsm and tp_btf plugins share: a kernel target chosen at load.

The target (an LSM hook, a BTF tracepoint) is ``TYPE:FUNC:TARGET`` when given,
else the part of the ELF section after the type (``lsm/file_open``). libbpf
finds it in the kernel's BTF under its prefix (``bpf_lsm_``, ``btf_trace_``);
attaching needs no option, since the kernel already knows where the program goes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

from bpfman.plugin import (
    AttachContext,
    AttachParams,
    InvalidInputError,
    LinkView,
    LoadContext,
    NotFoundError,
    TypeHandler,
    kernel,
)

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class BtfTargetHandler(TypeHandler[AttachParams]):
    """A type whose target is set at load and attached with BPF_RAW_TRACEPOINT_OPEN."""

    type_name: ClassVar[str]
    #: What the target is called in messages and ``get`` rows ("LSM Hook").
    label: ClassVar[str]
    #: The prefix of the target's name in the kernel's BTF ("bpf_lsm_").
    btf_prefix: ClassVar[str]
    #: What the record keeps the target under.
    key: ClassVar[str]

    def prepare_load(self, ctx: LoadContext) -> None:
        target = ctx.attach_func or _section_target(ctx.section)
        what = self.label.lower()
        if not target:
            raise InvalidInputError(
                f"{self.type_name}: {ctx.function} names no {what}: give it as "
                f"--programs {self.type_name}:{ctx.function}:<{what.upper().replace(' ', '_')}>"
                f" or in the section ({self.type_name}/<{what.replace(' ', '_')}>)"
            )
        if not _NAME.match(target):
            raise InvalidInputError(f"{self.type_name}: invalid {what} {target!r}")
        try:
            ctx.obj.set_attach_target(ctx.function, target)
        except NotFoundError:
            raise NotFoundError(
                f"{self.type_name}: no {what} {target} in the kernel's BTF "
                f"({self.btf_prefix}{target})"
            ) from None
        ctx.keep(self.key, target)
        ctx.show(self.label, target)

    def attach(self, ctx: AttachContext, params: AttachParams) -> dict[str, Any]:
        with ctx.program_fd() as prog, kernel.raw_tracepoint_open(prog.fd) as link:
            ctx.pin_link(link)
        return {self.key: ctx.program.plugin_data.get(self.key)}

    def describe(self, recorded: Mapping[str, Any]) -> LinkView:
        target = str(recorded[self.key])
        return LinkView(target, [(self.label, target)])


def _section_target(section: str) -> str:
    """``lsm/file_open`` -> ``file_open``; a section without a target -> ``""``."""
    _, _, target = section.partition("/")
    return target
