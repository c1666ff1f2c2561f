// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Counts entries (counts[0]) and returns (counts[1]) of whatever user function
 * the test attaches to; the target comes from `bpfman attach ... uprobe -t -f`.
 */
#include "counters.h"

volatile const __u32 target_pid = 0;

COUNTER_ARRAY(counts, 2);

SEC("uprobe")
int uprobe_counter(void *ctx)
{
	if (pid_selected(target_pid))
		counter_add(&counts, 0, 1);
	return 0;
}

SEC("uretprobe")
int uretprobe_counter(void *ctx)
{
	if (pid_selected(target_pid))
		counter_add(&counts, 1, 1);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
