// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * One slot of a TC dispatcher chain. Packets that do not match return
 * TC_ACT_OK, which the default proceed-on list lets through to the next slot.
 */
#include <linux/pkt_cls.h>

#include "chain.h"

/* What a matching packet gets (TC_ACT_*, e.g. TC_ACT_SHOT=2 to drop). */
volatile const __s32 verdict = TC_ACT_OK;

SEC("classifier")
int tc_chain(struct __sk_buff *skb)
{
	if (!chain_matches((void *)(long)skb->data, (void *)(long)skb->data_end))
		return TC_ACT_OK;
	chain_record();
	return verdict;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
