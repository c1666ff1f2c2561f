// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Counts entries (counts[0]) and returns (counts[1]) of do_unlinkat, i.e. unlink(). */
#include "counters.h"

volatile const __u32 target_pid = 0;

COUNTER_ARRAY(counts, 2);

SEC("kprobe/do_unlinkat")
int kprobe_counter(void *ctx)
{
	if (pid_selected(target_pid))
		counter_add(&counts, 0, 1);
	return 0;
}

SEC("kretprobe/do_unlinkat")
int kretprobe_counter(void *ctx)
{
	if (pid_selected(target_pid))
		counter_add(&counts, 1, 1);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
