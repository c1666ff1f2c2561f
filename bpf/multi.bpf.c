// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Two programs in one object: good_prog passes the verifier, bad_prog does
 * not. Loading both in one batch must fail as a whole and leave nothing behind.
 */
#include "counters.h"

COUNTER_ARRAY(counts, 1);

SEC("tracepoint/syscalls/sys_enter_getppid")
int good_prog(void *ctx)
{
	counter_add(&counts, 0, 1);
	return 0;
}

/*
 * Rejected: the map value pointer may be NULL and is used without a check. The
 * key is not a constant, so no kernel can prove the lookup always succeeds.
 */
SEC("tracepoint/syscalls/sys_enter_getppid")
int bad_prog(void *ctx)
{
	__u32 key = bpf_get_prandom_u32();
	__u64 *value = bpf_map_lookup_elem(&counts, &key);

	*value += 1;
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
