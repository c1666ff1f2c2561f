// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * TC (cls_bpf, direct action) dispatcher. Slot i runs only while
 * i < num_progs_enabled; after it returns r the chain goes on only if bit
 * r + 1 of chain_call_actions[i] is set (TC_ACT_UNSPEC is -1, so bit 0),
 * else r is the verdict. When every slot lets the packet on: TC_ACT_OK.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "dispatcher.h"

#define TC_DISPATCHER_RETVAL 30
/* Never runs; see DISPATCHER_STUB. Pulling 0 bytes pulls nothing in either. */
#define NOOP_PKT_CHANGE bpf_skb_pull_data(ctx, 0)

struct tc_dispatcher_config {
	__u8 num_progs_enabled;
	__u32 chain_call_actions[MAX_DISPATCHER_ACTIONS];
	__u32 run_prios[MAX_DISPATCHER_ACTIONS];
};

/* Set by bpfman before load; read-only afterwards, so unused slots are pruned. */
volatile const struct tc_dispatcher_config conf = {};

DISPATCHER_STUB(prog0, struct __sk_buff, TC_DISPATCHER_RETVAL, NOOP_PKT_CHANGE)
DISPATCHER_STUB(prog1, struct __sk_buff, TC_DISPATCHER_RETVAL, NOOP_PKT_CHANGE)
DISPATCHER_STUB(prog2, struct __sk_buff, TC_DISPATCHER_RETVAL, NOOP_PKT_CHANGE)
DISPATCHER_STUB(prog3, struct __sk_buff, TC_DISPATCHER_RETVAL, NOOP_PKT_CHANGE)
DISPATCHER_STUB(prog4, struct __sk_buff, TC_DISPATCHER_RETVAL, NOOP_PKT_CHANGE)
DISPATCHER_STUB(prog5, struct __sk_buff, TC_DISPATCHER_RETVAL, NOOP_PKT_CHANGE)
DISPATCHER_STUB(prog6, struct __sk_buff, TC_DISPATCHER_RETVAL, NOOP_PKT_CHANGE)
DISPATCHER_STUB(prog7, struct __sk_buff, TC_DISPATCHER_RETVAL, NOOP_PKT_CHANGE)
DISPATCHER_STUB(prog8, struct __sk_buff, TC_DISPATCHER_RETVAL, NOOP_PKT_CHANGE)
DISPATCHER_STUB(prog9, struct __sk_buff, TC_DISPATCHER_RETVAL, NOOP_PKT_CHANGE)

/* Run slot `i` through `fn`; stop the chain with its verdict unless allowed on. */
#define RUN_SLOT(i, fn)                                                     \
	do {                                                                \
		if (num < (i) + 1)                                          \
			return TC_ACT_OK;                                   \
		ret = fn(skb);                                              \
		if (!((1U << ((ret + 1) & 31)) & conf.chain_call_actions[i])) \
			return ret;                                         \
	} while (0)

SEC("classifier")
int tc_dispatcher(struct __sk_buff *skb)
{
	__u8 num = conf.num_progs_enabled;
	int ret;

	RUN_SLOT(0, prog0);
	RUN_SLOT(1, prog1);
	RUN_SLOT(2, prog2);
	RUN_SLOT(3, prog3);
	RUN_SLOT(4, prog4);
	RUN_SLOT(5, prog5);
	RUN_SLOT(6, prog6);
	RUN_SLOT(7, prog7);
	RUN_SLOT(8, prog8);
	RUN_SLOT(9, prog9);
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
