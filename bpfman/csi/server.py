"""The CSI Identity and Node services on their own Unix socket.

kubelet and csi-node-driver-registrar (root on the node) call this socket;
it is created as the bpfman.v1 socket is (:func:`~bpfman.serving.listen.bind_socket`:
mode 0660, a directory nobody else may write to, a stale socket replaced, a
live one refused) and relayed to a gRPC server of its own in the service's
process. Its calls are answered as bpfman.v1's are (:class:`~bpfman.serving.calls.Calls`):
logged with the caller's credentials, counted on their connection and in the
service's activity, so kubelet's calls keep an idle timeout from firing. Volumes
recorded before a restart or a crash are reconciled with the mounts before
the socket opens.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from collections.abc import Callable
from concurrent import futures
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc
from google.protobuf.wrappers_pb2 import BoolValue

from bpfman.serving.calls import Activity, Calls
from bpfman.serving.listen import bind_socket
from bpfman.serving.private import PrivateDir
from bpfman.serving.relay import Relay

from . import DRIVER_NAME, request
from . import csi_pb2 as pb
from . import csi_pb2_grpc as pb_grpc
from .volumes import Volumes

if TYPE_CHECKING:
    from google.protobuf.message import Message

    from bpfman.core.manager import Bpfman

log = logging.getLogger("bpfman.csi")
WORKERS = 4
SHUTDOWN_GRACE = 10.0
NodeCapability = pb.NodeServiceCapability


def node_id() -> str:
    """The Kubernetes node name: ``NODE_NAME``, the operator's ``KUBE_NODE_NAME``, or the host name."""
    return os.environ.get("NODE_NAME") or os.environ.get("KUBE_NODE_NAME") or socket.gethostname()


def _version() -> str:
    try:
        return metadata.version("bpfman")
    except metadata.PackageNotFoundError:
        return "unknown"


class Servicer:
    """Identity and Node around :class:`Volumes`, each call answered through :class:`Calls`."""

    def __init__(self, volumes: Volumes, calls: Calls) -> None:
        self.volumes = volumes
        self.calls = calls
        self.node_id = node_id()
        self.version = _version()

    def _serve(
        self, method: str, work: Callable[[Any], Message], req: Any, context: grpc.ServicerContext
    ) -> Message:
        return self.calls.answer(method, context, lambda _caller: work(req))

    # -- Identity -----------------------------------------------------------
    def GetPluginInfo(self, req: pb.GetPluginInfoRequest, context: grpc.ServicerContext) -> Message:
        info = pb.GetPluginInfoResponse(name=DRIVER_NAME, vendor_version=self.version)
        return self._serve("GetPluginInfo", lambda _: info, req, context)

    def GetPluginCapabilities(
        self, req: pb.GetPluginCapabilitiesRequest, context: grpc.ServicerContext
    ) -> Message:
        none = pb.GetPluginCapabilitiesResponse()  # Node service only: no capability to claim
        return self._serve("GetPluginCapabilities", lambda _: none, req, context)

    def Probe(self, req: pb.ProbeRequest, context: grpc.ServicerContext) -> Message:
        ready = pb.ProbeResponse(ready=BoolValue(value=True))
        return self._serve("Probe", lambda _: ready, req, context)

    # -- Node -----------------------------------------------------------------
    def NodeGetInfo(self, req: pb.NodeGetInfoRequest, context: grpc.ServicerContext) -> Message:
        info = pb.NodeGetInfoResponse(node_id=self.node_id)
        return self._serve("NodeGetInfo", lambda _: info, req, context)

    def NodeGetCapabilities(
        self, req: pb.NodeGetCapabilitiesRequest, context: grpc.ServicerContext
    ) -> Message:
        group = NodeCapability(rpc=NodeCapability.RPC(type=NodeCapability.RPC.VOLUME_MOUNT_GROUP))
        capabilities = pb.NodeGetCapabilitiesResponse(capabilities=[group])
        return self._serve("NodeGetCapabilities", lambda _: capabilities, req, context)

    def NodePublishVolume(
        self, req: pb.NodePublishVolumeRequest, context: grpc.ServicerContext
    ) -> Message:
        return self._serve("NodePublishVolume", self._publish, req, context)

    def NodeUnpublishVolume(
        self, req: pb.NodeUnpublishVolumeRequest, context: grpc.ServicerContext
    ) -> Message:
        return self._serve("NodeUnpublishVolume", self._unpublish, req, context)

    def _publish(self, req: pb.NodePublishVolumeRequest) -> Message:
        self.volumes.publish(request.publish(req))
        return pb.NodePublishVolumeResponse()

    def _unpublish(self, req: pb.NodeUnpublishVolumeRequest) -> Message:
        volume_id = request.volume_id(req.volume_id)
        self.volumes.unpublish(volume_id, request.target_path(req.target_path))
        return pb.NodeUnpublishVolumeResponse()


class CsiServer:
    """Reconcile the recorded volumes, then serve CSI on ``socket_path`` (by default
    ``<root>/csi/csi.sock``) until :meth:`stop`; its calls count in ``activity``."""

    def __init__(
        self, bpfman: Bpfman, socket_path: Path | None = None, activity: Activity | None = None
    ) -> None:
        self.socket_path = socket_path or bpfman.layout.csi_socket
        self.public = bind_socket(self.socket_path)  # first: a live CSI service here is refused
        self.server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="csi")
        )
        self.private: PrivateDir | None = None
        try:
            self.private = PrivateDir(bpfman.layout.relay, "csi")  # gRPC's own socket
            volumes = Volumes(bpfman)
            for line in volumes.reconcile():
                log.warning("csi recovery: %s", line)
            upstream = str(self.private.path / "grpc.sock")
            self.relay = Relay(self.public, upstream, self.private.path)
            servicer = Servicer(volumes, Calls(log, self.relay, activity or Activity()))
            pb_grpc.add_IdentityServicer_to_server(servicer, self.server)  # type: ignore[no-untyped-call]
            pb_grpc.add_NodeServicer_to_server(servicer, self.server)  # type: ignore[no-untyped-call]
            self.server.add_insecure_port(f"unix:{upstream}")
            self.server.start()
        except BaseException:
            self.server.stop(0)
            self._release()
            raise
        self.relay.start()
        log.info(
            "serving CSI driver %s on %s (node %s)", DRIVER_NAME, self.socket_path, servicer.node_id
        )

    def stop(self) -> None:
        """Stop accepting, let calls in flight finish, remove the socket."""
        self.relay.stop_accepting()
        self.server.stop(SHUTDOWN_GRACE).wait()
        self.relay.close()
        self._release()

    def _release(self) -> None:
        self.public.close()
        with contextlib.suppress(OSError):
            self.socket_path.unlink()
        if self.private is not None:
            self.private.close()
