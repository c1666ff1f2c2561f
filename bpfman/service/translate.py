"""The bpfman.v1 messages to and from bpfman's core: the one place that calls it.

Every RPC is a function of (core, request) -> response here; every core
exception becomes a gRPC status code (:mod:`bpfman.serving.status`) with the
one-line message the CLI prints. Nothing in this module knows a program type:
each type declares the ``AttachInfo`` field it is attached through
(``ProgramType.attach_info``) and its params' options say which message field
each is read from (:class:`~bpfman.core.fields.GrpcField`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bpfman import kernel
from bpfman.core.fields import declared
from bpfman.errors import (
    InvalidInputError,
    NotFoundError,
    NotManagedError,
    PluginError,
)
from bpfman.inputs import ProgramRequest
from bpfman.kernel.info import API_FIELDS, LOADED_AT_FORMAT
from bpfman.serving.status import NotServedError

from . import bpfman_pb2 as pb

if TYPE_CHECKING:
    from google.protobuf.message import Message

    from bpfman.core.contract import ProgramType
    from bpfman.core.manager import Bpfman, LinkDetails, ProgramDetails
    from bpfman.core.model import ProgramRecord
    from bpfman.core.plugins import Plugins

# BytecodeImage.image_pull_policy numbers, as the reference defines them.
PULL_POLICIES = {0: "Always", 1: "IfNotPresent", 2: "Never"}


class RequestError(InvalidInputError):
    """A request that is malformed at the API level (a missing oneof...)."""


def unmanaged(program_id: int) -> NotFoundError:
    """Over gRPC an id bpfman does not manage is not found, whatever the kernel holds.

    The operator's agent reads ``info`` of any answer it gets, and a program
    just unloaded stays in the kernel for a moment (freed after an RCU grace
    period): NOT_FOUND is the answer that is final at once.
    """
    return NotFoundError(f"program {program_id} is not managed by bpfman")


# -- requests ---------------------------------------------------------------------
def message_fields(message: Message) -> dict[str, Any]:
    """A message's fields as plain values; unset optional ones are None.

    An optional number set to 0 (a pid, a container pid) counts as unset, as
    in the reference: clients that fill every field send 0 for "none".
    """
    out: dict[str, Any] = {}
    for fd in message.DESCRIPTOR.fields:
        if fd.name == "metadata":
            continue
        if fd.has_presence and not message.HasField(fd.name):
            out[fd.name] = None
            continue
        value = getattr(message, fd.name)
        if fd.has_presence and type(value) is int and value == 0:
            out[fd.name] = None
            continue
        if fd.message_type is not None and fd.message_type.GetOptions().map_entry:
            value = dict(value)
        elif fd.is_repeated:
            value = list(value)
        out[fd.name] = value
    return out


def attach_params(ptype: ProgramType, message: Mapping[str, Any]) -> dict[str, Any]:
    """The params ``ptype`` declares, read from its AttachInfo message's fields.

    An option is read from the field its declaration names; a zero or unset
    field stands for the declared ``unset`` value, and names sent as numbers
    are turned back into names.
    """
    params: dict[str, Any] = {}
    for option in declared(ptype.params):
        grpc = option.spec.grpc if option.spec is not None else None
        if grpc is None:
            continue
        value = message.get(grpc.name or option.name)
        if grpc.codes is not None:
            value = [_named(ptype.name, option.name, code, grpc.codes) for code in value or []]
        if not value and grpc.unset is not None:
            value = grpc.unset
        params[option.name] = value
    return params


def _named(type_name: str, name: str, code: int, codes: Mapping[str, int]) -> str:
    by_code = {number: text for text, number in codes.items()}
    if code not in by_code:
        known = ", ".join(f"{c} ({n})" for c, n in sorted(by_code.items()))
        raise InvalidInputError(
            f"{type_name}: invalid {name} value {code} (possible values: {known})"
        )
    return by_code[code]


def check_attach_info(types: Mapping[str, ProgramType]) -> None:
    """Refuse, when the service starts, a type whose gRPC declaration names no field.

    A misspelt ``attach_info`` or message field would otherwise only show on
    the first attach.
    """
    kinds = pb.AttachInfo.DESCRIPTOR.fields_by_name
    for ptype in types.values():
        if not ptype.attach_info:
            continue
        where = f"plugin {ptype.plugin}: type {ptype.name!r}"
        if ptype.attach_info not in kinds:
            raise PluginError(
                f"{where}: attach_info {ptype.attach_info!r} is no AttachInfo field"
                f" (fields: {', '.join(kinds)})"
            )
        fields = kinds[ptype.attach_info].message_type.fields_by_name  # type: ignore[union-attr]
        for option in declared(ptype.params):
            grpc = option.spec.grpc if option.spec is not None else None
            if grpc is not None and (grpc.name or option.name) not in fields:
                raise PluginError(
                    f"{where}: option {option.name!r} is read from"
                    f" {ptype.attach_info}.{grpc.name or option.name}, which does not exist"
                    " (declare grpc=GrpcField(name=...), or grpc=None)"
                )


def _registry_auth(image: pb.BytecodeImage) -> str | None:
    """Credentials for this pull only, in the base64 form the core takes."""
    from bpfman.images.credentials import encode_auth

    if not image.username or not image.password:
        return None  # empty means anonymous, as in the reference
    return encode_auth(image.username, image.password)


def _pull_policy(image: pb.BytecodeImage) -> str:
    try:
        return PULL_POLICIES[image.image_pull_policy]
    except KeyError:
        raise RequestError(
            f"invalid image_pull_policy {image.image_pull_policy}"
            " (0 Always, 1 IfNotPresent, 2 Never)"
        ) from None


def _program_request(info: pb.LoadInfo, plugins: Plugins) -> ProgramRequest:
    if info.program_type not in pb.BpfmanProgramType.values():
        raise RequestError(f"program {info.name!r}: unknown program_type {info.program_type}")
    name = pb.BpfmanProgramType.Name(info.program_type).lower()
    if name not in plugins.types:
        if name in plugins.names:
            plugins.program_type(name)  # a broken plugin's own error says what is wrong
        raise NotServedError(
            f"program {info.name!r}: {name} programs are not supported yet"
            f" (no installed plugin provides the {name} type)"
        )
    attach_func: str | None = None
    if info.HasField("info"):
        which = info.info.WhichOneof("info")
        if which == "fentry_load_info":
            attach_func = info.info.fentry_load_info.fn_name
        elif which == "fexit_load_info":
            attach_func = info.info.fexit_load_info.fn_name
        elif which == "lsm_load_info":
            attach_func = info.info.lsm_load_info.hook_name
    return ProgramRequest(name, info.name, attach_func or None)


# -- responses --------------------------------------------------------------------
def kernel_message(info: kernel.ProgInfo, record: ProgramRecord | None) -> pb.KernelProgramInfo:
    """What bpfman.v1 says of a program the kernel holds; its type as bpfman recorded it
    (an xdp program loaded as ext is an xdp program)."""
    return pb.KernelProgramInfo(
        id=info.id,
        name=info.name,
        program_type=record.kernel_type if record is not None else info.type,
        loaded_at=info.loaded_at.strftime(LOADED_AT_FORMAT),
        **{name: getattr(info, attr) for name, attr in API_FIELDS.items()},
    )


def kernel_info(message: pb.KernelProgramInfo) -> kernel.ProgInfo:
    """The kernel's view of a program as bpfman.v1 carries it; the API carries no run
    statistics (0 here)."""
    carried = {attr: getattr(message, name) for name, attr in API_FIELDS.items()}
    return kernel.ProgInfo(
        id=message.id,
        name=message.name,
        type=message.program_type,
        type_name=kernel.prog_type_name(message.program_type),
        loaded_at=datetime.strptime(message.loaded_at, LOADED_AT_FORMAT),
        run_cnt=0,
        run_time_ns=0,
        **carried | {"map_ids": list(message.map_ids)},
    )


def json_values(values: Mapping[str, Any]) -> dict[str, str]:
    """Recorded values (msgpack's types) as the extensions carry them: each as JSON."""
    return {key: json.dumps(value, default=str) for key, value in values.items()}


def from_json_values(values: Mapping[str, str]) -> dict[str, Any]:
    return {key: json.loads(value) for key, value in values.items()}


def _link_info(details: LinkDetails) -> pb.LinkInfo:
    link, view = details.link, details.view
    info = pb.LinkInfo(
        id=link.id,
        type=link.type,
        attachment=view.attachment,
        rows=[pb.LinkRow(key=key, value=value) for key, value in view.rows],
        params=json_values(link.params),
    )
    if details.position is not None:
        info.position = details.position
    return info


def _program_info(
    record: ProgramRecord,
    links: list[int],
    used_by: list[int],
    described: Sequence[LinkDetails] = (),
) -> pb.ProgramInfo:
    """bpfman's record; with ``described`` (Get, Load), what each link attaches."""
    source = record.source
    if "image_url" in source:
        policy = {v: k for k, v in PULL_POLICIES.items()}.get(source.get("pull_policy", ""), 1)
        location = pb.BytecodeLocation(
            image=pb.BytecodeImage(url=source["image_url"], image_pull_policy=policy)
        )
    else:
        location = pb.BytecodeLocation(file=source.get("path", ""))
    info = pb.ProgramInfo(
        name=record.name,
        bytecode=location,
        links=links,
        global_data={k: bytes.fromhex(v) for k, v in record.globals.items()},
        map_pin_path=record.map_pin_path,
        map_used_by=[str(i) for i in used_by],
        metadata=record.metadata,
        link_details=[_link_info(d) for d in described],
        plugin_data=json_values(record.plugin_data),
    )
    if record.map_owner_id is not None:
        info.map_owner_id = record.map_owner_id
    return info


class KernelInfoCache:
    """``bpf_prog_info`` of live programs, fetched once per program.

    Everything KernelProgramInfo carries is fixed when a program is loaded, and
    the kernel does not hand a program's id to another one while ids have not
    wrapped around (2^31 loads), so a cached entry is right for as long as its
    id is alive. Each List first walks the live ids (one cheap syscall each)
    and forgets the entries of programs that are gone.
    """

    def __init__(self) -> None:
        self._infos: dict[int, kernel.ProgInfo] = {}

    def refresh(self) -> set[int]:
        alive = set(kernel.iter_prog_ids())
        for gone in self._infos.keys() - alive:
            self._infos.pop(gone, None)
        return alive

    def get(self, program_id: int) -> kernel.ProgInfo | None:
        info = self._infos.get(program_id)
        if info is None:
            try:
                with kernel.prog_fd_by_id(program_id) as fd:
                    info = kernel.prog_info(fd.fd, full_name=True)
            except NotFoundError:
                return None  # unloaded meanwhile
            self._infos[program_id] = info
        return info


def _fill_details(message: pb.LoadResponseInfo | pb.GetResponse, details: ProgramDetails) -> None:
    """Set ``info`` (bpfman's record) and ``kernel_info`` of a Load or Get answer."""
    if details.record is not None:
        links = [d.link.id for d in details.links]
        message.info.CopyFrom(
            _program_info(details.record, links, details.maps_used_by, details.links)
        )
    if details.kernel is not None:
        message.kernel_info.CopyFrom(kernel_message(details.kernel, details.record))


# -- the RPCs ---------------------------------------------------------------------
class Translator:
    """Serves the seven RPCs on one long-lived :class:`Bpfman`."""

    def __init__(self, bpfman: Bpfman) -> None:
        self.bpfman = bpfman
        self.types = bpfman.plugins.types
        check_attach_info(self.types)
        self.kernel_infos = KernelInfoCache()

    def load(self, request: pb.LoadRequest) -> pb.LoadResponse:
        if not request.HasField("bytecode") or request.bytecode.WhichOneof("location") is None:
            raise RequestError("missing bytecode location: set bytecode.file or bytecode.image")
        if not request.info:
            raise RequestError("no program given: add at least one LoadInfo to info")
        programs = [_program_request(info, self.bpfman.plugins) for info in request.info]
        globals_ = dict(request.global_data)
        metadata = dict(request.metadata)
        owner = request.map_owner_id or None  # 0 is unset, as in the reference
        location = request.bytecode
        if location.WhichOneof("location") == "file":
            if not location.file:
                raise RequestError("bytecode.file is empty: give the path of a .o file")
            if not os.path.isabs(location.file):
                raise RequestError(
                    f"bytecode.file {location.file!r} is relative: the service does not know"
                    " the client's working directory; give an absolute path"
                )
            records = self.bpfman.load_file(
                location.file, programs, globals=globals_, metadata=metadata, map_owner_id=owner
            )
        else:
            image = location.image
            if not image.url:
                raise RequestError("bytecode.image.url is empty")
            records = self.bpfman.load_image(
                image.url,
                programs,
                pull_policy=_pull_policy(image),
                registry_auth=_registry_auth(image),
                globals=globals_,
                metadata=metadata,
                map_owner_id=owner,
            )
        response = pb.LoadResponse()
        for record in records:
            _fill_details(response.programs.add(), self.bpfman.get_program(record.id))
        return response

    def unload(self, request: pb.UnloadRequest) -> pb.UnloadResponse:
        try:
            self.bpfman.unload(request.id)
        except NotManagedError:
            raise unmanaged(request.id) from None
        return pb.UnloadResponse()

    def attach(self, request: pb.AttachRequest) -> pb.AttachResponse:
        kind = request.attach.WhichOneof("info") if request.HasField("attach") else None
        if kind is None:
            raise RequestError("missing attach info: set one of AttachInfo's fields")
        record = self.bpfman.get_program(request.id).record
        if record is None:
            raise unmanaged(request.id)
        ptype = self.types.get(record.type)
        if ptype is None or not ptype.attach_info:
            raise NotServedError(
                f"program {request.id} is a {record.type} program and its plugin declares"
                " no gRPC attach mapping"
            )
        if ptype.attach_info != kind:
            raise RequestError(
                f"program {request.id} is a {record.type} program:"
                f" send {ptype.attach_info}, not {kind}"
            )
        message = getattr(request.attach, kind)
        params = attach_params(ptype, message_fields(message))
        link = self.bpfman.attach(request.id, params, metadata=dict(message.metadata))
        return pb.AttachResponse(link_id=link.id)

    def detach(self, request: pb.DetachRequest) -> pb.DetachResponse:
        self.bpfman.detach(request.link_id)
        return pb.DetachResponse()

    def get(self, request: pb.GetRequest) -> pb.GetResponse:
        details = self.bpfman.get_program(request.id)
        if details.record is None:
            raise unmanaged(request.id)
        response = pb.GetResponse()
        _fill_details(response, details)
        return response

    def list_programs(self, request: pb.ListRequest) -> pb.ListResponse:
        kernel_type: str | None = None
        if request.HasField("program_type"):
            kernel_type = kernel.KERNEL_PROG_TYPES.get(request.program_type)
            if kernel_type is None:
                raise RequestError(f"unknown kernel program_type {request.program_type}")
        rows = self.bpfman.list_programs(
            all=not request.bpfman_programs_only,
            kernel_type=kernel_type,
            selector=dict(request.match_metadata),
        )
        records, used_by = self._records([row.id for row in rows if row.managed])
        alive = self.kernel_infos.refresh()
        response = pb.ListResponse()
        for row in rows:
            record = records.get(row.id)
            kinfo = self.kernel_infos.get(row.id) if row.id in alive else None
            if kinfo is None:
                continue  # only programs that are in the kernel, as the reference
            result = response.results.add()
            if record is not None:
                result.info.CopyFrom(
                    _program_info(record, row.link_ids, used_by.get(record.map_pin_path, []))
                )
            result.kernel_info.CopyFrom(kernel_message(kinfo, record))
        return response

    def _records(self, ids: list[int]) -> tuple[dict[int, ProgramRecord], dict[str, list[int]]]:
        """Records of ``ids`` and who uses each map directory, in one read."""
        if not ids:
            return {}, {}
        wanted = set(ids)
        programs = self.bpfman.program_records()
        used_by: dict[str, list[int]] = {}
        for p in programs:
            used_by.setdefault(p.map_pin_path, []).append(p.id)
        return {p.id: p for p in programs if p.id in wanted}, {
            k: sorted(v) for k, v in used_by.items()
        }

    def pull_bytecode(self, request: pb.PullBytecodeRequest) -> pb.PullBytecodeResponse:
        if not request.HasField("image") or not request.image.url:
            raise RequestError("missing image: set image.url")
        from bpfman.images import PullPolicy

        policy = PullPolicy.parse(_pull_policy(request.image))
        self.bpfman.images.pull(request.image.url, policy, _registry_auth(request.image))
        return pb.PullBytecodeResponse()


def summary(method: str, request: Message) -> str:
    """A log line's description of a request, credentials left out."""
    if isinstance(request, pb.LoadRequest):
        where = request.bytecode.file or request.bytecode.image.url
        names = ",".join(
            f"{pb.BpfmanProgramType.Name(i.program_type).lower()}:{i.name}"
            if i.program_type in pb.BpfmanProgramType.values()
            else i.name
            for i in request.info
        )
        return f"{where} [{names}]"
    if isinstance(request, pb.AttachRequest):
        return f"program {request.id} {request.attach.WhichOneof('info')}"
    if isinstance(request, pb.UnloadRequest):
        return f"program {request.id}"
    if isinstance(request, pb.DetachRequest):
        return f"link {request.link_id}"
    if isinstance(request, pb.PullBytecodeRequest):
        return request.image.url
    return ""
