// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Targets for the toolbox tests (dump, run, tracelog, stats). Both programs
 * swap the Ethernet addresses in a BPF-to-BPF call, count frames per
 * EtherType in a hash map, try a tail call into an empty program array and
 * print `token` to the trace pipe, so a dump shows helper, kernel function,
 * subprogram and map references, and a test run has output to compare.
 * Frames of EtherType 0x88b5 (local experimental) get XDP_TX / TC_ACT_SHOT,
 * others XDP_PASS / TC_ACT_OK; frames shorter than a header are aborted.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#define ETH_P_TOOLBOX 0x88b5

/* Printed by every run, so a test finds its own lines in the trace pipe. */
volatile const __u32 token = 0;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u16);
	__type(value, __u64);
} frames SEC(".maps");

/* Empty program arrays (one per program type: an array takes the first user's). */
#define PROG_ARRAY(NAME)                                                       \
	struct {                                                               \
		__uint(type, BPF_MAP_TYPE_PROG_ARRAY);                         \
		__uint(max_entries, 1);                                        \
		__type(key, __u32);                                            \
		__type(value, __u32);                                          \
	} NAME SEC(".maps")

PROG_ARRAY(xdp_jump);
PROG_ARRAY(tc_jump);

/* A real subprogram (not inlined): swaps source and destination MACs. */
static __noinline int swap_macs(struct ethhdr *eth)
{
	unsigned char tmp[ETH_ALEN];

	__builtin_memcpy(tmp, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, tmp, ETH_ALEN);
	return bpf_ntohs(eth->h_proto) == ETH_P_TOOLBOX;
}

static __always_inline void count_frame(__u16 proto)
{
	__u64 one = 1, *seen = bpf_map_lookup_elem(&frames, &proto);

	if (seen)
		__sync_fetch_and_add(seen, 1);
	else
		bpf_map_update_elem(&frames, &proto, &one, BPF_NOEXIST);
}

SEC("xdp")
int xdp_toolbox(struct xdp_md *ctx)
{
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = (void *)(long)ctx->data;
	int ours;

	if ((void *)(eth + 1) > data_end)
		return XDP_ABORTED;
	ours = swap_macs(eth);
	count_frame(eth->h_proto);
	bpf_printk("bpfman-toolbox xdp %u", token);
	bpf_tail_call(ctx, &xdp_jump, 0);
	return ours ? XDP_TX : XDP_PASS;
}

SEC("classifier")
int tc_toolbox(struct __sk_buff *skb)
{
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = (void *)(long)skb->data;
	int ours;

	if ((void *)(eth + 1) > data_end)
		return TC_ACT_SHOT;
	ours = swap_macs(eth);
	count_frame(eth->h_proto);
	skb->mark += 1;
	bpf_printk("bpfman-toolbox tc %u", token);
	bpf_tail_call(skb, &tc_jump, 0);
	return ours ? TC_ACT_SHOT : TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
