"""``bpfman system service``: the bpfman.v1 gRPC API on a Unix socket.

One process keeps the plugin manager, the kernel binding and the state store
open, so a request pays no interpreter start. Mutating calls (Load, Unload,
Attach, Detach, PullBytecode) run one at a time in this process and take the
state's writer lock like any CLI command, so CLI and gRPC writers serialise;
List and Get never wait for them (:mod:`.admission` says how mutations wait,
and what a retry with a request id gets). Every mutating call is logged with
the caller's uid, gid and pid. A failing request answers a status code and the
one-line message the CLI would print; it never stops the service.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import os
import signal
import socket
import threading
from collections.abc import Callable
from concurrent import futures
from pathlib import Path
from typing import TYPE_CHECKING, Any

import grpc

from bpfman.csi.server import CsiServer
from bpfman.serving.calls import Activity, Calls
from bpfman.serving.listen import Credentials, activated_socket, bind_socket
from bpfman.serving.private import PrivateDir
from bpfman.serving.relay import Limits, Relay, connection_cap

from . import bpfman_pb2 as pb
from . import bpfman_pb2_grpc as pb_grpc
from . import levels
from .admission import Outcomes, Turns
from .translate import Translator, summary

if TYPE_CHECKING:
    from google.protobuf.message import Message

    from bpfman.core.manager import Bpfman

log = logging.getLogger("bpfman.service")

DEFAULT_SOCKET = Path("/run/bpfman-sock/bpfman.sock")
DEFAULT_TIMEOUT = 15
SHUTDOWN_GRACE = 30.0
SIGNAL_POLL = 0.5
WORKERS = 32
READ_WORKERS = 8  # always there for List and Get: mutations may hold the others
MUTATION_SLOTS = WORKERS - READ_WORKERS
MAX_RPCS = WORKERS * 4  # beyond, gRPC answers RESOURCE_EXHAUSTED instead of queueing
# Mutations that leave the state alone (the image cache has its own lock): they
# take turns with the others, but do not wait for CLI writers.
STATELESS = frozenset({"PullBytecode"})


class Servicer:
    """The seven RPCs: turns, request ids and summaries around :class:`Translator`."""

    def __init__(self, translator: Translator, calls: Calls) -> None:
        self.translator = translator
        self.calls = calls
        self.turns = Turns(translator.bpfman.store, MUTATION_SLOTS)
        self.outcomes = Outcomes()

    def _serve(
        self,
        method: str,
        mutating: bool,
        handler: Callable[[Any], Message],
        request: Message,
        context: grpc.ServicerContext,
    ) -> Message:
        if not mutating:
            return self.calls.answer(method, context, lambda _caller: handler(request))
        return self.calls.answer(
            method,
            context,
            lambda caller: self._mutate(method, handler, request, context, caller),
            level=logging.INFO,
            about=summary(method, request),
        )

    def _mutate(
        self,
        method: str,
        handler: Callable[[Any], Message],
        request: Message,
        context: grpc.ServicerContext,
        caller: Credentials | None,
    ) -> Message:
        """Run a mutation in its turn, or answer the first response to its request id."""
        key = self.outcomes.key(context, caller.uid if caller else None)
        if key is not None:
            wait = functools.partial(self.turns.wait, context, what="the first one with its id")
            first = self.outcomes.claim(key, method, request, wait)
            if first is not None:
                log.info("%s: request id %r done before: answering its response", method, key[1])
                return first
        response: Message | None = None
        try:
            with self.turns.turn(context, state=method not in STATELESS):
                response = handler(request)
            return response
        finally:
            if key is not None:
                self.outcomes.settle(key, response)

    def Load(self, request: pb.LoadRequest, context: grpc.ServicerContext) -> Message:
        return self._serve("Load", True, self.translator.load, request, context)

    def Unload(self, request: pb.UnloadRequest, context: grpc.ServicerContext) -> Message:
        return self._serve("Unload", True, self.translator.unload, request, context)

    def Attach(self, request: pb.AttachRequest, context: grpc.ServicerContext) -> Message:
        return self._serve("Attach", True, self.translator.attach, request, context)

    def Detach(self, request: pb.DetachRequest, context: grpc.ServicerContext) -> Message:
        return self._serve("Detach", True, self.translator.detach, request, context)

    def List(self, request: pb.ListRequest, context: grpc.ServicerContext) -> Message:
        return self._serve("List", False, self.translator.list_programs, request, context)

    def PullBytecode(
        self, request: pb.PullBytecodeRequest, context: grpc.ServicerContext
    ) -> Message:
        return self._serve("PullBytecode", True, self.translator.pull_bytecode, request, context)

    def Get(self, request: pb.GetRequest, context: grpc.ServicerContext) -> Message:
        return self._serve("Get", False, self.translator.get, request, context)


@dataclasses.dataclass(eq=False)
class Service:
    """The running service: public socket, relay, gRPC server, idle timer."""

    bpfman: Bpfman
    socket_path: Path = DEFAULT_SOCKET
    timeout: float = DEFAULT_TIMEOUT
    csi_support: bool = False
    csi_socket: Path | None = None
    limits: Limits = dataclasses.field(default_factory=Limits)
    stop_reason: str = dataclasses.field(default="", init=False)
    _stop: threading.Event = dataclasses.field(default_factory=threading.Event, init=False)

    def stop(self, reason: str = "stop requested") -> None:
        self.stop_reason = reason
        self._stop.set()

    def run(self) -> None:
        activity = Activity()  # both servers' calls: what keeps the service from idling out
        with contextlib.ExitStack() as undo:  # whatever fails, what was made is released
            if self.csi_support:
                undo.callback(CsiServer(self.bpfman, self.csi_socket, activity).stop)
            translator = Translator(self.bpfman)
            public = self._public_socket(undo)
            private = PrivateDir(self.bpfman.layout.relay, "rpc")
            undo.callback(private.close)
            upstream = str(private.path / "grpc.sock")
            server = grpc.server(
                futures.ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="rpc"),
                maximum_concurrent_rpcs=MAX_RPCS,
            )
            undo.callback(server.stop, 0)
            relay = Relay(
                public, upstream, private.path, self.limits, lambda: self.stop("the relay failed")
            )
            undo.callback(relay.close)
            servicer = Servicer(translator, Calls(log, relay, activity))
            pb_grpc.add_BpfmanServicer_to_server(servicer, server)  # type: ignore[no-untyped-call]
            server.add_insecure_port(f"unix:{upstream}")
            server.start()
            relay.start()
            self._wait(activity)
            log.info("shutting down (%s): letting in-flight requests finish", self.stop_reason)
            self._shut_down(server, relay, servicer.turns, activity)
        log.info("stopped")

    def _public_socket(self, undo: contextlib.ExitStack) -> socket.socket:
        """The socket systemd passed, or ours at ``socket_path`` (removed when done)."""
        public = activated_socket()
        if public is not None:
            log.info("serving on the socket systemd passed (%s)", _sock_name(public))
        else:
            public = bind_socket(self.socket_path)
            undo.callback(_remove, self.socket_path)
            log.info("serving on %s", self.socket_path)
        undo.callback(public.close)
        return public

    @staticmethod
    def _shut_down(server: grpc.Server, relay: Relay, turns: Turns, activity: Activity) -> None:
        """Requests that arrived finish, within the grace period; no connection holds the exit up.

        gRPC's graceful stop waits until every connection has closed, which a
        client is free never to do: the relay closes each one once it is quiet
        with no call in flight. Mutations still waiting for their turn when the
        grace period ends are not started (a stopped CLI writer would otherwise
        hold the exit up for ever).
        """
        relay.stop_accepting()
        stopped = server.stop(SHUTDOWN_GRACE)
        relay.drain()
        if stopped.wait(SHUTDOWN_GRACE):
            return
        turns.stopping.set()
        if not stopped.wait(5):
            log.warning("%d requests still running after %g s", activity.in_flight, SHUTDOWN_GRACE)

    def _wait(self, activity: Activity) -> None:
        """Until :meth:`stop`, or idle (no call on either server) for ``timeout`` seconds.

        Never blocks longer than ``SIGNAL_POLL`` at a time: the kernel may hand
        SIGTERM to another thread (it does while the main thread sits in a ptrace
        stop, under strace), and Python then runs the handler only when this
        thread runs again; an hour-long wait would not end for it.
        """
        while not self._stop.is_set():
            pause = SIGNAL_POLL
            if self.timeout > 0:
                idle = activity.idle_for()
                if idle >= self.timeout:
                    self.stop(f"idle for {self.timeout:g} s")
                    return
                pause = min(pause, max(0.05, self.timeout - idle))
            self._stop.wait(pause)


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


def _sock_name(sock: socket.socket) -> str:
    try:
        name = sock.getsockname()
    except OSError:
        return "?"
    return name if isinstance(name, str) and name else repr(name)


def serve(
    socket_path: Path = DEFAULT_SOCKET,
    timeout: float = DEFAULT_TIMEOUT,
    csi_support: bool = False,
    root: Path | None = None,
    verbose: bool = False,
    metrics_address: tuple[str, int] | None = None,
    csi_socket: Path | None = None,
    limits: Limits | None = None,
) -> None:
    """Run the service until SIGTERM/SIGINT or the idle timeout.

    With ``metrics_address`` the Prometheus endpoint is served from this
    process too, on the service's own plugin manager and store.
    """
    from bpfman.core.manager import Bpfman

    limits = limits or Limits()
    limits = dataclasses.replace(limits, max_connections=connection_cap(limits.max_connections))

    bpfman = Bpfman(root)
    levels.apply(verbose, os.environ.get("RUST_LOG"), bpfman.config.table("logging").get("level"))
    bpfman.plugins  # noqa: B018 -- load the plugins now, not on the first request
    # A crashed predecessor's work is finished before the first request, and
    # records whose kernel objects vanished meanwhile are dropped.
    for line in bpfman.recover():
        log.info("recovery: %s", line)
    service = Service(bpfman, socket_path, timeout, csi_support, csi_socket, limits)
    metrics = None
    if metrics_address is not None:
        from bpfman.toolbox.metrics import serve as serve_metrics

        metrics = serve_metrics(bpfman, *metrics_address)
        log.info("serving metrics at http://%s:%d/metrics", *metrics.server_address[:2])
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda num, _frame: service.stop(signal.Signals(num).name))
    log.info("bpfman service starting (pid %d, root %s)", os.getpid(), bpfman.layout.root)
    try:
        service.run()
    finally:
        if metrics is not None:
            metrics.shutdown()
            metrics.server_close()
        bpfman.close()
