// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Counts entries (counts[0]) and exits (counts[1]) of do_unlinkat via BPF
 * trampolines. The attach function is given at load time
 * (`--programs fentry:test_fentry:do_unlinkat`); the section only names a default.
 */
#include "counters.h"

volatile const __u32 target_pid = 0;

COUNTER_ARRAY(counts, 2);

SEC("fentry/do_unlinkat")
int test_fentry(__u64 *ctx)
{
	if (pid_selected(target_pid))
		counter_add(&counts, 0, 1);
	return 0;
}

SEC("fexit/do_unlinkat")
int test_fexit(__u64 *ctx)
{
	if (pid_selected(target_pid))
		counter_add(&counts, 1, 1);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
