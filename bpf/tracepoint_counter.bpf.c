// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Counts getppid() calls; tests trigger it with os.getppid() and read `counts`. */
#include "counters.h"

/* Set with `bpfman load -g NAME=HEX`: only this tgid counts (0 = all). */
volatile const __u32 target_pid = 0;
/* Added per hit, so a test can tell which global values were applied. */
volatile const __u32 increment = 1;

COUNTER_ARRAY(counts, 1);

SEC("tracepoint/syscalls/sys_enter_getppid")
int tracepoint_counter(void *ctx)
{
	if (pid_selected(target_pid))
		counter_add(&counts, 0, increment);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
