/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Shared pieces of bpfman's test programs: u64 counter arrays that tests read
 * from outside with bpftool, and the optional PID filter.
 */
#ifndef BPFMAN_TEST_COUNTERS_H
#define BPFMAN_TEST_COUNTERS_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/*
 * A BTF-defined ARRAY of ENTRIES u64 counters, so bpftool can dump it by name.
 * A third argument adds a map attribute, e.g. __uint(pinning, LIBBPF_PIN_BY_NAME).
 */
#define COUNTER_ARRAY(NAME, ENTRIES, ...)                                      \
	struct {                                                               \
		__uint(type, BPF_MAP_TYPE_ARRAY);                              \
		__uint(max_entries, ENTRIES);                                  \
		__type(key, __u32);                                            \
		__type(value, __u64);                                          \
		__VA_ARGS__;                                                   \
	} NAME SEC(".maps")

/* Atomically add delta to map[index]; an index past the end is ignored. */
static __always_inline void counter_add(void *map, __u32 index, __u64 delta)
{
	__u64 *value = bpf_map_lookup_elem(map, &index);

	if (value)
		__sync_fetch_and_add(value, delta);
}

/* True when target_pid is 0 (count everyone) or is the current process (tgid). */
static __always_inline int pid_selected(__u32 target_pid)
{
	return target_pid == 0 || (__u32)(bpf_get_current_pid_tgid() >> 32) == target_pid;
}

#endif /* BPFMAN_TEST_COUNTERS_H */
