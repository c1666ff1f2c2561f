// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * bpfman's profiler (`bpfman profile`): an fentry/fexit pair wrapped around
 * one loaded BPF program. On entry it reads the perf counters of the current
 * CPU; on exit it reads them again and adds the growth to per-CPU totals, and
 * counts the run. User space points both programs at the target (attach
 * target set before load), sizes `counters` to cpus x metrics and fills it
 * with perf event fds: metric m of CPU c at index m * num_cpus + c.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define MAX_METRICS 8

volatile const __u32 num_cpus = 1;
volatile const __u32 num_metrics = 1;

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} counters SEC(".maps");

#define READINGS(NAME, ENTRIES, VALUE)                                         \
	struct {                                                               \
		__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);                       \
		__uint(max_entries, ENTRIES);                                  \
		__type(key, __u32);                                            \
		__type(value, VALUE);                                          \
	} NAME SEC(".maps")

/* Counter values when the target was entered on this CPU (enabled 0: unread). */
READINGS(at_entry, MAX_METRICS, struct bpf_perf_event_value);
/* Growth of each counter summed over the target's runs on this CPU. */
READINGS(totals, MAX_METRICS, struct bpf_perf_event_value);
/* Completed runs of the target on this CPU. */
READINGS(runs, 1, __u64);

static __always_inline int read_counter(__u32 metric, __u32 cpu, struct bpf_perf_event_value *v)
{
	return bpf_perf_event_read_value(&counters, metric * num_cpus + cpu, v, sizeof(*v));
}

SEC("fentry/target")
int profile_entry(void *ctx)
{
	__u32 cpu = bpf_get_smp_processor_id();

	/* Unrolled: older verifiers take this loop for an infinite one. */
#pragma clang loop unroll(full)
	for (__u32 m = 0; m < MAX_METRICS; m++) {
		__u32 key = m; /* the loop counter itself must not escape, or no unrolling */
		struct bpf_perf_event_value *start = bpf_map_lookup_elem(&at_entry, &key);

		if (m >= num_metrics || !start)
			break;
		if (read_counter(m, cpu, start))
			start->enabled = 0;
	}
	return 0;
}

SEC("fexit/target")
int profile_exit(void *ctx)
{
	__u32 zero = 0, cpu = bpf_get_smp_processor_id();
	__u64 *count = bpf_map_lookup_elem(&runs, &zero);

	if (count)
		*count += 1;
#pragma clang loop unroll(full)
	for (__u32 m = 0; m < MAX_METRICS; m++) {
		struct bpf_perf_event_value now, *start, *total;
		__u32 key = m;

		start = bpf_map_lookup_elem(&at_entry, &key);
		total = bpf_map_lookup_elem(&totals, &key);
		if (m >= num_metrics || !start || !total)
			break;
		if (!start->enabled || read_counter(m, cpu, &now))
			continue;
		total->counter += now.counter - start->counter;
		total->enabled += now.enabled - start->enabled;
		total->running += now.running - start->running;
	}
	return 0;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
