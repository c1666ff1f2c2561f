/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Shared body of the packet test programs (tcx, tc, xdp). Each matching packet
 * bumps counts[prog_slot] and records in last_seq[prog_slot] the value it took
 * from the shared `seq` counter, so a test can read back in which order the
 * programs on one hook ran for the last packet. Only IPv4 UDP to udp_port
 * matches: ARP and IPv6 chatter on the veth must not disturb the counts.
 */
#ifndef BPFMAN_TEST_CHAIN_H
#define BPFMAN_TEST_CHAIN_H

#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>

#include "counters.h"

#define CHAIN_SLOTS 16

/* Which counter slot this instance owns (0..15); set per load with -g. */
volatile const __u32 prog_slot = 0;
/* UDP destination port (host order) of the packets under test. */
volatile const __u16 udp_port = 4242;

COUNTER_ARRAY(counts, CHAIN_SLOTS);
COUNTER_ARRAY(seq, 1);
COUNTER_ARRAY(last_seq, CHAIN_SLOTS);

/* True for an IPv4 UDP packet to udp_port, with every header bounds-checked. */
static __always_inline int chain_matches(void *data, void *data_end)
{
	struct ethhdr *eth = data;
	struct iphdr *ip;
	struct udphdr *udp;

	if ((void *)(eth + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return 0;
	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end || ip->protocol != IPPROTO_UDP || ip->ihl < 5)
		return 0;
	udp = (void *)ip + ip->ihl * 4;
	if ((void *)(udp + 1) > data_end)
		return 0;
	return bpf_ntohs(udp->dest) == udp_port;
}

/* Count the packet for this slot and stamp it with the next sequence number. */
static __always_inline void chain_record(void)
{
	__u32 slot = prog_slot;
	__u32 zero = 0;
	__u64 *next = bpf_map_lookup_elem(&seq, &zero);
	__u64 *last = bpf_map_lookup_elem(&last_seq, &slot);

	counter_add(&counts, slot, 1);
	if (next && last)
		*last = __sync_fetch_and_add(next, 1);
}

#endif /* BPFMAN_TEST_CHAIN_H */
