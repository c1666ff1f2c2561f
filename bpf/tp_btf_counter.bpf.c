// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Counts one syscall of one process on the BTF tracepoint sys_enter, whose
 * arguments are (struct pt_regs *regs, long id). tp_btf_any has no tracepoint in its
 * section: it is given at load (`tp_btf:tp_btf_any:sys_enter`).
 */
#include "counters.h"

volatile const __u32 target_pid = 0;
/* The syscall counted: getppid on x86_64 (110) unless set. */
volatile const __u64 syscall_nr = 110;

COUNTER_ARRAY(counts, 2);

SEC("tp_btf/sys_enter")
int tp_btf_counter(__u64 *ctx)
{
	if (ctx[1] == syscall_nr && pid_selected(target_pid))
		counter_add(&counts, 0, 1);
	return 0;
}

SEC("tp_btf")
int tp_btf_any(__u64 *ctx)
{
	if (ctx[1] == syscall_nr && pid_selected(target_pid))
		counter_add(&counts, 1, 1);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
