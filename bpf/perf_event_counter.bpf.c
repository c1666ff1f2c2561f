// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Counts perf event samples per CPU, of one process or (target_pid 0) of all. */
#include "counters.h"

#define MAX_CPUS 64

volatile const __u32 target_pid = 0;

COUNTER_ARRAY(counts, MAX_CPUS);

SEC("perf_event")
int perf_event_counter(void *ctx)
{
	if (pid_selected(target_pid))
		counter_add(&counts, bpf_get_smp_processor_id(), 1);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
