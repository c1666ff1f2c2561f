"""The backend that runs bpfman's core in this process (root, no service)."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from bpfman import kernel
from bpfman.core.manager import Bpfman
from bpfman.errors import NotFoundError
from bpfman.inputs import ProgramRequest
from bpfman.kernel.info import LOADED_AT_FORMAT

from .model import (
    BpfdFacts,
    FileSource,
    Hook,
    LinkFacts,
    ListRow,
    Load,
    Loaded,
    Shown,
    global_pairs,
    pairs,
    retprobe_of,
)

if TYPE_CHECKING:
    from bpfman.images import PullPolicy


def as_recorded(info: kernel.ProgInfo, kernel_type: int | None) -> kernel.ProgInfo:
    """``info`` with the type bpfman recorded (an xdp program loaded as ext shows xdp)."""
    if kernel_type is None:
        return info
    return info._replace(type=kernel_type, type_name=kernel.prog_type_name(kernel_type))


class Local:
    """bpfman's core on its root (``BPFMAN_ROOT`` or /run/bpfman), as ``bpfman`` uses it."""

    def __init__(self) -> None:
        self.bpfman = Bpfman()

    def close(self) -> None:
        self.bpfman.close()

    def load(self, load: Load, hook: Hook) -> Loaded:
        source = load.source
        if isinstance(source, FileSource):
            load_source = partial(self.bpfman.load_file, source.path)
        else:
            load_source = partial(
                self.bpfman.load_image,
                source.url,
                pull_policy=source.pull_policy,
                registry_auth=source.registry_auth,
            )
        # An empty name loads the image's program of the hook's type (its label).
        [record] = load_source(
            [ProgramRequest(hook.type, load.name)],
            globals=load.globals,
            metadata=load.metadata,
            map_owner_id=load.map_owner_id,
        )
        retprobe = retprobe_of(record.plugin_data) if hook.retprobe is not None else None
        return Loaded(record.id, record.name, retprobe)

    def attach(self, program_id: int, hook: Hook) -> None:
        self.bpfman.attach(program_id, hook.params)

    def unload(self, program_id: int) -> None:
        self.bpfman.unload(program_id)

    def programs(self, all_: bool, program_type: str | None) -> list[ListRow]:
        rows = self.bpfman.list_programs(all=all_, kernel_type=program_type)
        recorded = {r.id: r.kernel_type for r in self.bpfman.program_records()}
        out = []
        for row in rows:
            try:
                with kernel.prog_fd_by_id(row.id) as fd:
                    info = kernel.prog_info(fd.fd)
            except NotFoundError:
                continue  # unloaded meanwhile
            info = as_recorded(info, recorded.get(row.id))
            loaded_at = info.loaded_at.strftime(LOADED_AT_FORMAT)
            out.append(ListRow(row.id, row.name, info.type_name, loaded_at))
        return out

    def program(self, program_id: int) -> Shown:
        details = self.bpfman.get_program(program_id)
        record = details.record
        bpfd = None
        if record is not None:
            source = record.source
            if "image_url" in source:
                rows = [
                    ("Image URL", source["image_url"]),
                    ("Pull Policy", source.get("pull_policy", "IfNotPresent")),
                ]
            else:
                rows = [("Path", source.get("path", "None"))]
            bpfd = BpfdFacts(
                name=record.name,
                source=rows,
                globals=global_pairs({k: bytes.fromhex(v) for k, v in record.globals.items()}),
                metadata=pairs(dict(sorted(record.metadata.items()))),
                map_pin_path=record.map_pin_path,
                map_owner_id=record.map_owner_id,
                map_used_by=details.maps_used_by,
                links=[
                    LinkFacts(d.link.id, d.link.type, d.link.params, d.position, d.view.attachment)
                    for d in details.links
                ],
            )
        info = details.kernel
        kernel_type = None if record is None else record.kernel_type
        return Shown(bpfd, None if info is None else as_recorded(info, kernel_type))

    def pull(self, url: str, pull_policy: str, registry_auth: str | None) -> None:
        self.bpfman.images.pull(url, _policy(pull_policy), registry_auth)


def _policy(name: str) -> PullPolicy:
    from bpfman.images import PullPolicy

    return PullPolicy.parse(name)
