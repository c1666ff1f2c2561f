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
 */
#define DISPATCHER_STUB(name, ctx_type, retval)             \
	__attribute__((noinline)) int name(ctx_type *ctx)   \
	{                                                   \
		volatile int ret = retval;                  \
		if (!ctx)                                   \
			return 0;                           \
		return ret;                                 \
	}

#endif /* BPFMAN_DISPATCHER_H */
