"""Throwaway network namespaces joined by a veth pair, and real traffic across them.

Tests attach programs to one end and prove their effect with packets that really
cross the link. Everything lives in namespaces this module creates, so the only
addresses ever targeted are the pair's own.

Sockets are opened inside a namespace by a short-lived thread that joins it with
setns(2): the network namespace is per thread, and a socket keeps the namespace it
was created in, so the test process can use it afterwards without any subprocess.
"""

from __future__ import annotations

import ctypes
import os
import secrets
import select
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Self, TypeVar

from tests.helpers import run

T = TypeVar("T")

NETNS_DIR = "/var/run/netns"
CLONE_NEWNET = 0x40000000
DEFAULT_UDP_PORT = 4242
# Room for a few thousand small datagrams, so a burst is never lost in the receiver.
RCVBUF_BYTES = 8 << 20
SO_RCVBUFFORCE = 33  # Linux; root may exceed net.core.rmem_max

_libc = ctypes.CDLL(None, use_errno=True)


def netns_path(netns: str) -> str:
    """Accept a netns name or path and return the path (`/var/run/netns/NAME`)."""
    return netns if netns.startswith("/") else os.path.join(NETNS_DIR, netns)


def in_netns(netns: str, fn: Callable[[], T]) -> T:
    """Call fn in a fresh thread that has joined netns; return its result or raise."""
    outcome: list[T] = []
    failure: list[BaseException] = []

    def body() -> None:
        try:
            fd = os.open(netns_path(netns), os.O_RDONLY)
            try:
                if _libc.setns(fd, CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, f"setns({netns}): {os.strerror(err)}")
            finally:
                os.close(fd)
            outcome.append(fn())
        except BaseException as exc:  # handed to the caller's thread below
            failure.append(exc)

    thread = threading.Thread(target=body, name=f"netns-{netns}")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
    return outcome[0]


def udp_socket(netns: str) -> socket.socket:
    """A UDP socket that belongs to netns."""
    return in_netns(netns, lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM))


def ifindex(netns: str, iface: str) -> int:
    """The index of ``iface`` in ``netns`` (a name or path)."""
    return in_netns(netns, lambda: socket.if_nametoindex(iface))


def add_veth(netns: str, name: str, index: int | None = None) -> int:
    """A veth pair ``name``/``name``p inside ``netns`` (``name`` with this ifindex if
    given), both up; returns the ifindex of ``name``. Deleting either end deletes both."""
    ns = os.path.basename(netns)
    at = ["index", str(index)] if index is not None else []
    run(["ip", "-n", ns, "link", "add", name, *at, "type", "veth", "peer", "name", f"{name}p"])
    for end in (name, f"{name}p"):
        run(["ip", "-n", ns, "link", "set", end, "up"])
    return ifindex(netns, name)


def delete_link(netns: str, iface: str) -> None:
    """Delete ``iface`` in ``netns`` behind bpfman's back."""
    run(["ip", "-n", os.path.basename(netns), "link", "del", iface])


class VethPair:
    """Namespaces ns_a and ns_b with veth ends if_a (ip_a) and if_b (ip_b) in a /30.

    Usage::

        with VethPair() as pair:
            pair.send_udp(10)                        # ns_a -> ip_b:4242
            assert pair.udp_received(4242, 10, 1.0) == 10

    The receiving socket for a port is bound before the first datagram is sent,
    so a datagram is counted by `udp_received` exactly when the stack delivered it
    (a DROP verdict shows up as fewer). Both neighbours are static, so no ARP
    resolution delays or drops the first packets.
    """

    def __init__(self, token: str | None = None) -> None:
        """``token`` (8 hex digits) names the namespaces and interfaces (default: random)."""
        token = token or secrets.token_hex(4)
        self.token = token
        self.ns_a = f"bpft-{token}-a"
        self.ns_b = f"bpft-{token}-b"
        # Interfaces sit in different namespaces, so they can share the netns names.
        self.if_a = self.ns_a
        self.if_b = self.ns_b
        self.netns_path_a = netns_path(self.ns_a)
        self.netns_path_b = netns_path(self.ns_b)
        subnet = f"10.199.{secrets.randbelow(256)}"
        base = 4 * secrets.randbelow(64)
        self.ip_a = f"{subnet}.{base + 1}"
        self.ip_b = f"{subnet}.{base + 2}"
        self.mac_a = f"02:bf:{token[0:2]}:{token[2:4]}:{token[4:6]}:0a"
        self.mac_b = f"02:bf:{token[0:2]}:{token[2:4]}:{token[4:6]}:0b"
        self._receivers: dict[tuple[bool, int], socket.socket] = {}
        self._closed = False
        try:
            self._create()
        except BaseException:
            self.close()
            raise

    def _create(self) -> None:
        run(["ip", "netns", "add", self.ns_a])
        run(["ip", "netns", "add", self.ns_b])
        end_a = [self.if_a, "address", self.mac_a]
        end_b = [self.if_b, "netns", self.ns_b, "address", self.mac_b]
        run(["ip", "-n", self.ns_a, "link", "add", *end_a, "type", "veth", "peer", "name", *end_b])
        for ns, ifname, ip, peer_ip, peer_mac in (
            (self.ns_a, self.if_a, self.ip_a, self.ip_b, self.mac_b),
            (self.ns_b, self.if_b, self.ip_b, self.ip_a, self.mac_a),
        ):
            run(["ip", "-n", ns, "addr", "add", f"{ip}/30", "dev", ifname])
            run(["ip", "-n", ns, "link", "set", "dev", "lo", "up"])
            run(["ip", "-n", ns, "link", "set", "dev", ifname, "up"])
            neigh = [peer_ip, "lladdr", peer_mac, "dev", ifname, "nud", "permanent"]
            run(["ip", "-n", ns, "neigh", "replace", *neigh])

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _receiver(self, port: int, at_b: bool) -> socket.socket:
        """The bound listening socket for port on side b (or a), made on first use."""
        key = (at_b, port)
        if key not in self._receivers:
            sock = udp_socket(self.ns_b if at_b else self.ns_a)
            try:
                sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RCVBUF_BYTES)
                sock.bind((self.ip_b if at_b else self.ip_a, port))
                sock.setblocking(False)
            except BaseException:
                sock.close()
                raise
            self._receivers[key] = sock
        return self._receivers[key]

    def listen_udp(self, port: int = DEFAULT_UDP_PORT, at_b: bool = True) -> None:
        """Bind the receiver for port now (send_udp also does it before sending)."""
        self._receiver(port, at_b)

    def send_udp(self, count: int, port: int = DEFAULT_UDP_PORT, from_a: bool = True) -> None:
        """Send count small datagrams from ns_a to ip_b:port (or from ns_b to ip_a)."""
        self._receiver(port, at_b=from_a)
        dest = (self.ip_b if from_a else self.ip_a, port)
        with udp_socket(self.ns_a if from_a else self.ns_b) as sock:
            for seq in range(count):
                sock.sendto(b"bpfman-test %d" % seq, dest)

    def udp_received(self, port: int, count: int, timeout: float = 1.0, at_b: bool = True) -> int:
        """Read up to count datagrams that reached port, waiting at most timeout seconds.

        Returns as soon as count arrived; what is not read stays for the next call.
        A short timeout suits tests that expect drops.
        """
        return len(self.udp_payloads(port, count, timeout, at_b))

    def udp_payloads(
        self, port: int, count: int, timeout: float = 1.0, at_b: bool = True
    ) -> list[bytes]:
        """As udp_received, but return the payloads read, in arrival order."""
        sock = self._receiver(port, at_b)
        payloads: list[bytes] = []
        deadline = time.monotonic() + timeout
        while len(payloads) < count:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([sock], [], [], left)[0]:
                break
            while len(payloads) < count:
                try:
                    payloads.append(sock.recv(2048))
                except BlockingIOError:
                    break
        return payloads

    def ping(self, count: int = 1, from_a: bool = True) -> bool:
        """True when every one of count pings from ns_a to ip_b (or back) is answered."""
        ns, dest = (self.ns_a, self.ip_b) if from_a else (self.ns_b, self.ip_a)
        args = ["-q", "-n", "-c", str(count), "-i", "0.05", "-W", "1", dest]
        proc = subprocess.run(
            ["ip", "netns", "exec", ns, "ping", *args], capture_output=True, check=False
        )
        return proc.returncode == 0

    def close(self) -> None:
        """Close the sockets and delete both namespaces (and so the veth); idempotent."""
        if self._closed:
            return
        self._closed = True
        for sock in self._receivers.values():
            sock.close()
        self._receivers.clear()
        errors: list[str] = []
        for ns in (self.ns_a, self.ns_b):
            if os.path.exists(netns_path(ns)):
                try:
                    run(["ip", "netns", "delete", ns])
                except AssertionError as exc:
                    errors.append(str(exc))
        if errors:
            raise AssertionError("\n".join(errors))
