// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Counts one syscall of one process on the raw tracepoint sys_enter (args: regs, id). */
#include "counters.h"

/* Set with `bpfman load -g`: only this tgid counts (0 = all). */
volatile const __u32 target_pid = 0;
/* The syscall counted: getppid on x86_64 (110) unless set. */
volatile const __u64 syscall_nr = 110;

COUNTER_ARRAY(counts, 1);

SEC("raw_tracepoint/sys_enter")
int raw_tp_counter(struct bpf_raw_tracepoint_args *ctx)
{
	if (ctx->args[1] == syscall_nr && pid_selected(target_pid))
		counter_add(&counts, 0, 1);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
