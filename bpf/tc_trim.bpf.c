// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * A TC program that changes packet data: it cuts each test packet's UDP payload
 * to `keep` bytes with bpf_skb_change_tail, counts it in its slot and lets it on.
 */
#include <linux/pkt_cls.h>

#include "trim.h"

SEC("classifier")
int tc_trim(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	int cut;

	if (!chain_matches(data, data_end))
		return TC_ACT_OK;
	chain_record();
	cut = trim_headers(data, data_end);
	if (cut > 0 && bpf_skb_change_tail(skb, skb->len - cut, 0))
		return TC_ACT_SHOT;
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
