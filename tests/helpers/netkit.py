"""A netkit pair across two throwaway namespaces (Linux >= 6.7, CONFIG_NETKIT).

Debian 12's iproute2 and pyroute2 predate netkit, so the pair is created with one
raw RTM_NEWLINK message: the primary device in ns_a, its peer in ns_b, in L3 mode
(no ARP, so no neighbour to set up). Everything else -- addresses, traffic,
cleanup -- is the veth pair's (tests/helpers/net.py).
"""

from __future__ import annotations

import os
import socket
import struct

from tests.helpers import run
from tests.helpers.net import VethPair, in_netns

RTM_NEWLINK = 16
NLMSG_ERROR = 2
NLM_F_REQUEST, NLM_F_ACK, NLM_F_EXCL, NLM_F_CREATE = 0x1, 0x4, 0x200, 0x400
IFLA_IFNAME, IFLA_LINKINFO, IFLA_NET_NS_FD = 3, 18, 28
IFLA_INFO_KIND, IFLA_INFO_DATA = 1, 2
IFLA_NETKIT_PEER_INFO, IFLA_NETKIT_MODE = 1, 5
NETKIT_L3 = 1
NETKIT_PRIMARY, NETKIT_PEER = 54, 55  # enum bpf_attach_type
IFINFOMSG = struct.Struct("BxHiII")  # family, type, index, flags, change


def _attr(kind: int, payload: bytes) -> bytes:
    head = struct.pack("HH", 4 + len(payload), kind)
    pad = b"\0" * (-len(payload) % 4)
    return head + payload + pad


def _name(value: str) -> bytes:
    return value.encode() + b"\0"


def newlink_netkit(primary: str, peer: str, peer_netns_fd: int, seq: int = 1) -> bytes:
    """The RTM_NEWLINK message creating primary here and peer in the given netns."""
    peer_info = IFINFOMSG.pack(0, 0, 0, 0, 0)
    peer_info += _attr(IFLA_IFNAME, _name(peer))
    peer_info += _attr(IFLA_NET_NS_FD, struct.pack("I", peer_netns_fd))
    data = _attr(IFLA_NETKIT_PEER_INFO, peer_info) + _attr(
        IFLA_NETKIT_MODE, struct.pack("I", NETKIT_L3)
    )
    linkinfo = _attr(IFLA_INFO_KIND, _name("netkit")) + _attr(IFLA_INFO_DATA, data)
    body = IFINFOMSG.pack(0, 0, 0, 0, 0) + _attr(IFLA_IFNAME, _name(primary))
    body += _attr(IFLA_LINKINFO, linkinfo)
    flags = NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL
    return struct.pack("IHHII", 16 + len(body), RTM_NEWLINK, flags, seq, 0) + body


def _create_in_current_netns(primary: str, peer: str, peer_netns: str) -> None:
    fd = os.open(peer_netns, os.O_RDONLY)
    try:
        with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE) as nl:
            nl.bind((0, 0))
            nl.send(newlink_netkit(primary, peer, fd))
            reply = nl.recv(65536)
    finally:
        os.close(fd)
    _, kind, _, _, _ = struct.unpack_from("IHHII", reply)
    if kind != NLMSG_ERROR:
        raise AssertionError(f"RTM_NEWLINK netkit: unexpected reply type {kind}")
    (error,) = struct.unpack_from("i", reply, 16)
    if error:
        raise OSError(-error, f"creating netkit {primary}/{peer}: {os.strerror(-error)}")


class NetkitPair(VethPair):
    """Namespaces ns_a and ns_b joined by a netkit pair: if_a is the primary device
    (in ns_a), if_b its peer (in ns_b); same traffic helpers as VethPair."""

    def _create(self) -> None:
        run(["ip", "netns", "add", self.ns_a])
        run(["ip", "netns", "add", self.ns_b])
        in_netns(
            self.ns_a, lambda: _create_in_current_netns(self.if_a, self.if_b, self.netns_path_b)
        )
        for ns, ifname, ip in (
            (self.ns_a, self.if_a, self.ip_a),
            (self.ns_b, self.if_b, self.ip_b),
        ):
            run(["ip", "-n", ns, "addr", "add", f"{ip}/30", "dev", ifname])
            run(["ip", "-n", ns, "link", "set", "dev", "lo", "up"])
            run(["ip", "-n", ns, "link", "set", "dev", ifname, "up"])
