// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Written the way the reference bpfman's examples are: the program is declared
 * `static` (libbpf alone refuses to open such an object) and its map is pinned
 * by name (LIBBPF_PIN_BY_NAME: libbpf alone pins it in /sys/fs/bpf). Counts
 * kill() calls; tests trigger it with os.kill(pid, 0) and read `kill_counts`.
 */
#include "counters.h"

/* Set with `bpfman load -g target_pid=HEX`: only this tgid counts (0 = all). */
volatile const __u32 target_pid = 0;

COUNTER_ARRAY(kill_counts, 1, __uint(pinning, LIBBPF_PIN_BY_NAME));

SEC("tracepoint/syscalls/sys_enter_kill")
static int tracepoint_kill_recorder(void *ctx)
{
	if (pid_selected(target_pid))
		counter_add(&kill_counts, 0, 1);
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
