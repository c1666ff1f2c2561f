// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * A map pinned by name (LIBBPF_PIN_BY_NAME), as the reference bpfman's xdp and
 * tc counter examples declare theirs: libbpf alone would pin it in the host's
 * /sys/fs/bpf. Counts getppid() calls in `pinned_counts`.
 */
#include "counters.h"

volatile const __u32 target_pid = 0;

COUNTER_ARRAY(pinned_counts, 1, __uint(pinning, LIBBPF_PIN_BY_NAME));

SEC("tracepoint/syscalls/sys_enter_getppid")
int pinned_counter(void *ctx)
{
	if (pid_selected(target_pid))
		counter_add(&pinned_counts, 0, 1);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
