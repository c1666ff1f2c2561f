// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * An XDP program that changes packet data: it cuts each test packet's UDP payload
 * to `keep` bytes with bpf_xdp_adjust_tail, counts it in its slot and passes it.
 */
#include "trim.h"

SEC("xdp")
int xdp_trim(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	int cut;

	if (!chain_matches(data, data_end))
		return XDP_PASS;
	chain_record();
	cut = trim_headers(data, data_end);
	if (cut > 0 && bpf_xdp_adjust_tail(ctx, -cut))
		return XDP_ABORTED;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
