// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * cgroup programs: cgroup_chain counts and stamps (chain.h) the IPv4 UDP packets to
 * udp_port that sockets of the cgroup send, and lets them through or denies them;
 * deny_connect refuses connect() to udp_port (a cgroup_sock_addr program). Their
 * kernel and attach types come from the section names, as libbpf spells them.
 */
#include <linux/if_ether.h>
#include "chain.h"

/* 1 lets the packet through, 0 denies it (the sender sees EPERM). */
volatile const __u32 verdict = 1;

/* cgroup_skb sees the packet from its IP header on: read relative to it. */
static __always_inline int udp_to_port(struct __sk_buff *skb)
{
	struct iphdr ip;
	struct udphdr udp;

	if (skb->protocol != bpf_htons(ETH_P_IP))
		return 0;
	if (bpf_skb_load_bytes_relative(skb, 0, &ip, sizeof(ip), BPF_HDR_START_NET))
		return 0;
	if (ip.protocol != IPPROTO_UDP || ip.ihl < 5)
		return 0;
	if (bpf_skb_load_bytes_relative(skb, ip.ihl * 4, &udp, sizeof(udp), BPF_HDR_START_NET))
		return 0;
	return bpf_ntohs(udp.dest) == udp_port;
}

SEC("cgroup_skb/egress")
int cgroup_chain(struct __sk_buff *skb)
{
	if (!udp_to_port(skb))
		return 1;
	chain_record();
	return verdict;
}

SEC("cgroup/connect4")
int deny_connect(struct bpf_sock_addr *ctx)
{
	if (ctx->user_port != bpf_htons(udp_port))
		return 1;
	counter_add(&counts, prog_slot, 1);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
