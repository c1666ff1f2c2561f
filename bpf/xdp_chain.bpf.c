// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* One slot of an XDP dispatcher chain; non-matching packets get XDP_PASS. */
#include "chain.h"

/* What a matching packet gets (XDP_*, e.g. XDP_DROP=1). */
volatile const __s32 verdict = XDP_PASS;

SEC("xdp")
int xdp_chain(struct xdp_md *ctx)
{
	if (!chain_matches((void *)(long)ctx->data, (void *)(long)ctx->data_end))
		return XDP_PASS;
	chain_record();
	return verdict;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
