"""The backend that asks the bpfman service over its socket (bpfman.v1 gRPC).

The service runs as root; the caller needs only access to the socket (its
group). Bytecode files are read by the service itself, by path, with its own
rights (root without CAP_DAC_OVERRIDE under the shipped unit). What ``get``
shows of each link and what ``-r`` is checked against (the plugin's record of
the program's ELF section) come from this project's extensions of bpfman.v1
(``ProgramInfo.link_details`` and ``plugin_data``), so both read as they do
in-process.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from typing import Any

import grpc

from bpfman.dispatcher import TC, XDP, Flavour
from bpfman.errors import (
    BpfmanError,
    ConflictError,
    ImageError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    UnsupportedError,
)
from bpfman.kernel.names import prog_type_name, prog_types_named
from bpfman.service import bpfman_pb2 as pb
from bpfman.service import bpfman_pb2_grpc as pb_grpc
from bpfman.service.translate import PULL_POLICIES, from_json_values, kernel_info

from .listening import answers
from .model import (
    BpfdFacts,
    FileSource,
    Hook,
    ImageSource,
    LinkFacts,
    ListRow,
    Load,
    Loaded,
    Shown,
    global_pairs,
    pairs,
    retprobe_of,
)

# How the service's status codes come back as bpfman's errors (and exit statuses).
ERRORS: dict[grpc.StatusCode, type[BpfmanError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidInputError,
    grpc.StatusCode.NOT_FOUND: NotFoundError,
    grpc.StatusCode.PERMISSION_DENIED: PermissionDeniedError,
    grpc.StatusCode.FAILED_PRECONDITION: UnsupportedError,
    grpc.StatusCode.ALREADY_EXISTS: ConflictError,
    grpc.StatusCode.UNAVAILABLE: ImageError,  # the service could not reach a registry
}
FILE_HINT = (
    "the bpfman service reads bytecode files itself: the file must exist where it runs and be"
    " readable by root without CAP_DAC_OVERRIDE (owned by root, or readable by all,"
    " its directories too)"
)
POLICY_NUMBERS = {name: number for number, name in PULL_POLICIES.items()}
NETNS_DIRS = ("/run/netns", "/var/run/netns")


class Remote:
    """A bpfman.v1 client on the service's Unix socket."""

    def __init__(self, socket_path: str) -> None:
        self.socket_path = socket_path
        self.channel = grpc.insecure_channel(f"unix:{socket_path}")
        self.stub = pb_grpc.BpfmanStub(self.channel)  # type: ignore[no-untyped-call]

    def close(self) -> None:
        self.channel.close()

    def _call(self, method: str, request: Any) -> Any:
        try:
            return getattr(self.stub, method)(request)
        except grpc.RpcError as exc:
            raise self._error(exc) from None

    def _error(self, exc: grpc.RpcError) -> BpfmanError:
        code = exc.code()
        details = str(exc.details() or code.name)
        if code == grpc.StatusCode.UNAVAILABLE and not answers(self.socket_path):
            return BpfmanError(f"the bpfman service at {self.socket_path} stopped answering")
        return ERRORS.get(code, BpfmanError)(details)

    # -- load, attach, unload ------------------------------------------------------
    def load(self, load: Load, hook: Hook) -> Loaded:
        source = load.source
        if isinstance(source, FileSource):
            location = pb.BytecodeLocation(file=source.path)
        else:  # an empty name: the service takes the image's program of the type (its label)
            location = pb.BytecodeLocation(image=bytecode_image(source))
        request = pb.LoadRequest(
            bytecode=location,
            info=[pb.LoadInfo(name=load.name, program_type=hook.type.upper())],
            global_data=load.globals,
            metadata=load.metadata,
        )
        if load.map_owner_id is not None:
            request.map_owner_id = load.map_owner_id
        try:
            response = self._call("Load", request)
        except BpfmanError as exc:
            if isinstance(source, FileSource) and not service_may_read(source.path):
                raise type(exc)(f"{exc}; {FILE_HINT}") from None
            raise
        [loaded] = response.programs
        plugin_data = from_json_values(loaded.info.plugin_data)
        retprobe = retprobe_of(plugin_data) if hook.retprobe is not None else None
        return Loaded(int(loaded.kernel_info.id), loaded.info.name, retprobe)

    def attach(self, program_id: int, hook: Hook) -> None:
        build = ATTACH_INFO[hook.type]
        self._call("Attach", pb.AttachRequest(id=program_id, attach=build(hook.params)))

    def unload(self, program_id: int) -> None:
        self._call("Unload", pb.UnloadRequest(id=program_id))

    def pull(self, url: str, pull_policy: str, registry_auth: str | None) -> None:
        image = bytecode_image(ImageSource(url, pull_policy, registry_auth))
        self._call("PullBytecode", pb.PullBytecodeRequest(image=image))

    # -- list, get -----------------------------------------------------------------
    def programs(self, all_: bool, program_type: str | None) -> list[ListRow]:
        request = pb.ListRequest(bpfman_programs_only=not all_)
        if program_type is not None:
            request.program_type = min(prog_types_named(program_type))
        rows = []
        for result in self._call("List", request).results:
            kinfo = result.kernel_info
            name = result.info.name if result.HasField("info") else kinfo.name
            rows.append(
                ListRow(kinfo.id, name, prog_type_name(kinfo.program_type), kinfo.loaded_at)
            )
        return sorted(rows)

    def program(self, program_id: int) -> Shown:
        try:
            response = self._call("Get", pb.GetRequest(id=program_id))
        except NotFoundError:
            # Get answers NOT_FOUND for a program bpfman did not load, as the reference
            # does; List of every kernel program still has its kernel info (bpfd: NONE).
            for result in self._call("List", pb.ListRequest(bpfman_programs_only=False)).results:
                if result.kernel_info.id == program_id and not result.HasField("info"):
                    return Shown(None, kernel_info(result.kernel_info))
            raise
        bpfd = program_facts(response.info) if response.HasField("info") else None
        kernel = kernel_info(response.kernel_info) if response.HasField("kernel_info") else None
        return Shown(bpfd, kernel)


def bytecode_image(source: ImageSource) -> pb.BytecodeImage:
    """The image as bpfman.v1 names it; the credentials travel decoded, for this pull only."""
    image = pb.BytecodeImage(url=source.url, image_pull_policy=POLICY_NUMBERS[source.pull_policy])
    if source.registry_auth is not None:
        from bpfman.images.credentials import decode_auth

        image.username, image.password = decode_auth(source.registry_auth)
    return image


def program_facts(info: pb.ProgramInfo) -> BpfdFacts:
    described = {link.id: link for link in info.link_details}
    location = info.bytecode
    if location.WhichOneof("location") == "image":
        policy = PULL_POLICIES.get(location.image.image_pull_policy, "IfNotPresent")
        source = [("Image URL", location.image.url), ("Pull Policy", policy)]
    else:
        source = [("Path", location.file)]
    return BpfdFacts(
        name=info.name,
        source=source,
        globals=global_pairs(info.global_data),
        metadata=pairs(dict(sorted(info.metadata.items()))),
        map_pin_path=info.map_pin_path,
        map_owner_id=info.map_owner_id if info.HasField("map_owner_id") else None,
        map_used_by=[int(i) for i in info.map_used_by],
        links=[link_facts(described.get(link_id), link_id) for link_id in info.links],
    )


def link_facts(info: pb.LinkInfo | None, link_id: int) -> LinkFacts:
    """A link as the service described it; its id alone if it did not (an older service)."""
    if info is None:
        return LinkFacts(link_id)
    position = info.position if info.HasField("position") else None
    return LinkFacts(info.id, info.type, from_json_values(info.params), position, info.attachment)


# -- attach requests ----------------------------------------------------------------
def _set(**fields: Any) -> dict[str, Any]:
    """Fields to set: None leaves an optional field unset."""
    return {name: value for name, value in fields.items() if value is not None}


def _codes(flavour: Flavour, names: list[str]) -> list[int]:
    return [flavour.actions[name] for name in names]


def _xdp(p: dict[str, Any]) -> pb.AttachInfo:
    return pb.AttachInfo(
        xdp_attach_info=pb.XDPAttachInfo(
            **_set(
                priority=p["priority"],
                iface=p["iface"],
                proceed_on=_codes(XDP, p["proceed_on"]),
                netns=named_netns(),
            )
        )
    )


def _tc(p: dict[str, Any]) -> pb.AttachInfo:
    return pb.AttachInfo(
        tc_attach_info=pb.TCAttachInfo(
            **_set(
                priority=p["priority"],
                iface=p["iface"],
                direction=p["direction"],
                proceed_on=_codes(TC, p["proceed_on"]),
                netns=named_netns(),
            )
        )
    )


def _tracepoint(p: dict[str, Any]) -> pb.AttachInfo:
    return pb.AttachInfo(tracepoint_attach_info=pb.TracepointAttachInfo(tracepoint=p["tracepoint"]))


def _kprobe(p: dict[str, Any]) -> pb.AttachInfo:
    return pb.AttachInfo(kprobe_attach_info=pb.KprobeAttachInfo(**_set(**p)))


def _uprobe(p: dict[str, Any]) -> pb.AttachInfo:
    return pb.AttachInfo(uprobe_attach_info=pb.UprobeAttachInfo(**_set(**p)))


ATTACH_INFO: dict[str, Callable[[dict[str, Any]], pb.AttachInfo]] = {
    "xdp": _xdp,
    "tc": _tc,
    "tracepoint": _tracepoint,
    "kprobe": _kprobe,
    "uprobe": _uprobe,
}


# -- what this side can tell the service ------------------------------------------
def named_netns() -> str | None:
    """The ``ip netns`` name of the namespace this process runs in, as a path.

    In-process, bpfman attaches in the caller's network namespace; the service
    runs in its own, so it is told which one -- by a path it can open.
    """
    try:
        own = os.stat("/proc/self/ns/net")
    except OSError:
        return None
    for directory in NETNS_DIRS:
        try:
            names = sorted(os.listdir(directory))
        except OSError:
            continue
        for name in names:
            path = os.path.join(directory, name)
            try:
                st = os.stat(path)
            except OSError:
                continue
            if (st.st_dev, st.st_ino) == (own.st_dev, own.st_ino):
                return path
    return None


def service_may_read(path: str) -> bool:
    """Whether root without CAP_DAC_OVERRIDE (the shipped unit) may read ``path``.

    Such a root passes the permission bits as any user would: as the owner of
    root's files, as a member of group 0, else as "others".
    """
    parts = os.path.abspath(path).split("/")[1:]
    prefixes = ["/" + "/".join(parts[:i]) for i in range(len(parts) + 1)]
    for depth, prefix in enumerate(prefixes):
        try:
            st = os.stat(prefix)
        except OSError:
            return False
        want = 4 if depth == len(prefixes) - 1 else 1  # read the file, search directories
        shift = 6 if st.st_uid == 0 else 3 if st.st_gid == 0 else 0
        if not (stat.S_IMODE(st.st_mode) >> shift) & want:
            return False
    return True
