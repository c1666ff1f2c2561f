// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * XDP dispatcher, libxdp protocol version 2, so that `xdp-loader status`
 * recognises it. Slot i runs only while i < num_progs_enabled; after it
 * returns r the chain goes on only if bit r of chain_call_actions[i] is set,
 * else r is the verdict. When every slot lets the packet on, it passes.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "dispatcher.h"

#define XDP_DISPATCHER_MAGIC 236
#define XDP_DISPATCHER_VERSION 2
#define XDP_DISPATCHER_RETVAL 31
/* Never runs; see DISPATCHER_STUB. Growing by 0 bytes changes nothing either. */
#define NOOP_PKT_CHANGE bpf_xdp_adjust_tail(ctx, 0)

struct xdp_dispatcher_config {
	__u8 magic;
	__u8 dispatcher_version;
	__u8 num_progs_enabled;
	__u8 is_xdp_frags;
	__u32 chain_call_actions[MAX_DISPATCHER_ACTIONS];
	__u32 run_prios[MAX_DISPATCHER_ACTIONS];
	__u32 program_flags[MAX_DISPATCHER_ACTIONS];
};

/* Set by bpfman before load; read-only afterwards, so unused slots are pruned. */
volatile const struct xdp_dispatcher_config conf = {
	.magic = XDP_DISPATCHER_MAGIC,
	.dispatcher_version = XDP_DISPATCHER_VERSION,
};

DISPATCHER_STUB(prog0, struct xdp_md, XDP_DISPATCHER_RETVAL, NOOP_PKT_CHANGE)
DISPATCHER_STUB(prog1, struct xdp_md, XDP_DISPATCHER_RETVAL, NOOP_PKT_CHANGE)
DISPATCHER_STUB(prog2, struct xdp_md, XDP_DISPATCHER_RETVAL, NOOP_PKT_CHANGE)
DISPATCHER_STUB(prog3, struct xdp_md, XDP_DISPATCHER_RETVAL, NOOP_PKT_CHANGE)
DISPATCHER_STUB(prog4, struct xdp_md, XDP_DISPATCHER_RETVAL, NOOP_PKT_CHANGE)
DISPATCHER_STUB(prog5, struct xdp_md, XDP_DISPATCHER_RETVAL, NOOP_PKT_CHANGE)
DISPATCHER_STUB(prog6, struct xdp_md, XDP_DISPATCHER_RETVAL, NOOP_PKT_CHANGE)
DISPATCHER_STUB(prog7, struct xdp_md, XDP_DISPATCHER_RETVAL, NOOP_PKT_CHANGE)
DISPATCHER_STUB(prog8, struct xdp_md, XDP_DISPATCHER_RETVAL, NOOP_PKT_CHANGE)
DISPATCHER_STUB(prog9, struct xdp_md, XDP_DISPATCHER_RETVAL, NOOP_PKT_CHANGE)

/* Run slot `i` through `fn`; stop the chain with its verdict unless allowed on. */
#define RUN_SLOT(i, fn)                                               \
	do {                                                          \
		if (num < (i) + 1)                                    \
			return XDP_PASS;                              \
		ret = fn(ctx);                                        \
		if (!((1U << (ret & 31)) & conf.chain_call_actions[i])) \
			return ret;                                   \
	} while (0)

SEC("xdp")
int xdp_dispatcher(struct xdp_md *ctx)
{
	__u8 num = conf.num_progs_enabled;
	__u32 ret;

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
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
