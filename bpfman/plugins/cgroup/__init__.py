"""The cgroup program type: one bpfman type for the cgroup family.

cgroup_skb, cgroup_sock, cgroup_sock_addr, cgroup_sockopt, cgroup_sysctl and
cgroup_device programs are all ``cgroup``; the kernel program type and the
attach type come from the ELF section as libbpf names them
(``cgroup_skb/egress``, ``cgroup/connect4``, ``cgroup/dev``...).
``attach ID cgroup -c CGROUP_PATH [-p PRIO]`` attaches on cgroup v2.
"""
