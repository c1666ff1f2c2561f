// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * One object with one program of every built-in type, sharing one map, like
 * the guide's multi-program image: loaded together, they share maps and
 * globals. hits[] has one slot per program.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "counters.h"

volatile const __u32 target_pid = 0;

COUNTER_ARRAY(hits, 8);

enum { KPROBE, TRACEPOINT, TC, TCX, UPROBE, XDP };

SEC("kprobe/do_unlinkat")
int kprobe_counter(void *ctx)
{
	if (pid_selected(target_pid))
		counter_add(&hits, KPROBE, 1);
	return 0;
}

SEC("tracepoint/syscalls/sys_enter_kill")
int tracepoint_kill_recorder(void *ctx)
{
	if (pid_selected(target_pid))
		counter_add(&hits, TRACEPOINT, 1);
	return 0;
}

SEC("classifier")
int stats(struct __sk_buff *skb)
{
	counter_add(&hits, TC, 1);
	return TC_ACT_OK;
}

SEC("tc")
int tcx_stats(struct __sk_buff *skb)
{
	counter_add(&hits, TCX, 1);
	return -1; /* TCX_NEXT */
}

SEC("uprobe")
int uprobe_counter(void *ctx)
{
	if (pid_selected(target_pid))
		counter_add(&hits, UPROBE, 1);
	return 0;
}

SEC("xdp")
int xdp_stats(struct xdp_md *ctx)
{
	counter_add(&hits, XDP, 1);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
