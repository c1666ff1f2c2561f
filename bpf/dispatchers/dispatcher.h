/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Shared shape of bpfman's dispatchers: ten global, never-inlined stub
 * functions prog0..prog9 that user programs replace with freplace, called in
 * order by the main program while the chain-call mask of each slot allows it.
 */
#ifndef BPFMAN_DISPATCHER_H
#define BPFMAN_DISPATCHER_H

#define MAX_DISPATCHER_ACTIONS 10

/*
 * A stub: returns the "dispatcher return" value while no program replaces it.
 * The volatile local and the ctx test keep clang from folding the body, so
 * the function keeps its own BTF signature and stays a replaceable target.
 *
 * `changes_pkt` calls a helper that may change packet data, on a path that
 * never runs (`ret` always holds `retval`); the verifier still sees the call.
 * It marks the stub as one that changes packet data: Linux 6.13, and 6.12 from
 * its stable updates, let an extension that calls such a helper
 * (bpf_xdp_adjust_tail, bpf_skb_change_tail, ...) replace only a function so
 * marked ("Extension program changes packet data, while original does not").
 * The call gets the real ctx, since the verifier may walk that path too.
 */
#define DISPATCHER_STUB(name, ctx_type, retval, changes_pkt) \
	__attribute__((noinline)) int name(ctx_type *ctx)    \
	{                                                    \
		volatile int ret = retval;                   \
		if (!ctx)                                    \
			return 0;                            \
		if (ret != (retval))                         \
			changes_pkt;                         \
		return ret;                                  \
	}

#endif /* BPFMAN_DISPATCHER_H */
