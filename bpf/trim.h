/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Shared body of the packet-changing test programs (xdp_trim, tc_trim): they cut
 * the UDP payload of each test packet to its first `keep` bytes with a helper
 * that changes packet data (bpf_xdp_adjust_tail, bpf_skb_change_tail), so a
 * receiver outside sees the effect. Such programs must be accepted as freplace
 * extensions of the dispatcher stubs.
 */
#ifndef BPFMAN_TEST_TRIM_H
#define BPFMAN_TEST_TRIM_H

#include "chain.h"

/* How many UDP payload bytes a test packet keeps. */
volatile const __u32 keep = 6;

/*
 * For a test packet (chain_matches) with more than `keep` payload bytes: set the
 * IPv4 total length (and its header checksum) and the UDP length for `keep`
 * payload bytes, clear the UDP checksum (none: allowed over IPv4), and return how
 * many bytes the caller must cut from the tail. 0 leaves the packet as it is.
 */
static __always_inline int trim_headers(void *data, void *data_end)
{
	struct iphdr *ip = data + sizeof(struct ethhdr);
	struct udphdr *udp;
	__u16 old_len, new_len;
	__u32 sum;
	int payload, cut;

	if (!chain_matches(data, data_end))
		return 0;
	if ((void *)(ip + 1) > data_end)
		return 0;
	udp = (void *)ip + ip->ihl * 4;
	if ((void *)(udp + 1) > data_end)
		return 0;
	payload = (int)bpf_ntohs(udp->len) - (int)sizeof(*udp);
	if (payload <= (int)keep)
		return 0;
	cut = payload - (int)keep;
	old_len = ip->tot_len;
	new_len = bpf_htons(bpf_ntohs(old_len) - cut);
	ip->tot_len = new_len;
	/* Incremental update of the header checksum (RFC 1624): ~(~HC + ~m + m'). */
	sum = (__u16)~ip->check + (__u16)~old_len + new_len;
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	ip->check = (__u16)~sum;
	udp->len = bpf_htons(sizeof(*udp) + keep);
	udp->check = 0;
	return cut;
}

#endif /* BPFMAN_TEST_TRIM_H */
