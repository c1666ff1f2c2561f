"""libbpf's cgroup section names and the kernel types they stand for.

A section gives both the program type (checked by the verifier) and the
attach type (where it runs). ``cgroup/skb`` names no direction, so it is
refused: use ``cgroup_skb/ingress`` or ``cgroup_skb/egress``.
"""

from __future__ import annotations

from typing import NamedTuple

from bpfman.plugin import kernel

P = kernel.PROG_TYPE
A = kernel.ATTACH_TYPE


class Hook(NamedTuple):
    prog_type: int
    attach_type: int

    @property
    def name(self) -> str:
        """The attach type as the kernel names it, lowercase (``cgroup_inet_egress``)."""
        return f"cgroup_{A(self.attach_type).name.lower().removeprefix('cgroup_')}"


SECTIONS: dict[str, Hook] = {
    "cgroup_skb/ingress": Hook(P.CGROUP_SKB, A.CGROUP_INET_INGRESS),
    "cgroup_skb/egress": Hook(P.CGROUP_SKB, A.CGROUP_INET_EGRESS),
    "cgroup/sock": Hook(P.CGROUP_SOCK, A.CGROUP_INET_SOCK_CREATE),
    "cgroup/sock_create": Hook(P.CGROUP_SOCK, A.CGROUP_INET_SOCK_CREATE),
    "cgroup/sock_release": Hook(P.CGROUP_SOCK, A.CGROUP_INET_SOCK_RELEASE),
    "cgroup/post_bind4": Hook(P.CGROUP_SOCK, A.CGROUP_INET4_POST_BIND),
    "cgroup/post_bind6": Hook(P.CGROUP_SOCK, A.CGROUP_INET6_POST_BIND),
    "cgroup/bind4": Hook(P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_BIND),
    "cgroup/bind6": Hook(P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_BIND),
    "cgroup/connect4": Hook(P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_CONNECT),
    "cgroup/connect6": Hook(P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_CONNECT),
    "cgroup/connect_unix": Hook(P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_CONNECT),
    "cgroup/sendmsg4": Hook(P.CGROUP_SOCK_ADDR, A.CGROUP_UDP4_SENDMSG),
    "cgroup/sendmsg6": Hook(P.CGROUP_SOCK_ADDR, A.CGROUP_UDP6_SENDMSG),
    "cgroup/sendmsg_unix": Hook(P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_SENDMSG),
    "cgroup/recvmsg4": Hook(P.CGROUP_SOCK_ADDR, A.CGROUP_UDP4_RECVMSG),
    "cgroup/recvmsg6": Hook(P.CGROUP_SOCK_ADDR, A.CGROUP_UDP6_RECVMSG),
    "cgroup/recvmsg_unix": Hook(P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_RECVMSG),
    "cgroup/getpeername4": Hook(P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_GETPEERNAME),
    "cgroup/getpeername6": Hook(P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_GETPEERNAME),
    "cgroup/getpeername_unix": Hook(P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_GETPEERNAME),
    "cgroup/getsockname4": Hook(P.CGROUP_SOCK_ADDR, A.CGROUP_INET4_GETSOCKNAME),
    "cgroup/getsockname6": Hook(P.CGROUP_SOCK_ADDR, A.CGROUP_INET6_GETSOCKNAME),
    "cgroup/getsockname_unix": Hook(P.CGROUP_SOCK_ADDR, A.CGROUP_UNIX_GETSOCKNAME),
    "cgroup/getsockopt": Hook(P.CGROUP_SOCKOPT, A.CGROUP_GETSOCKOPT),
    "cgroup/setsockopt": Hook(P.CGROUP_SOCKOPT, A.CGROUP_SETSOCKOPT),
    "cgroup/sysctl": Hook(P.CGROUP_SYSCTL, A.CGROUP_SYSCTL),
    "cgroup/dev": Hook(P.CGROUP_DEVICE, A.CGROUP_DEVICE),
}
