// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * An LSM hook that refuses to open one file, named by its inode number. The kernel
 * structs hold only the fields read; CO-RE relocates them against the kernel's BTF.
 * lsm_deny_any has no hook in its section: it is given at load (`lsm:lsm_deny_any:file_open`).
 */
#include <linux/errno.h>
#include "counters.h"
#include <bpf/bpf_tracing.h>

struct inode {
	unsigned long i_ino;
} __attribute__((preserve_access_index));

struct file {
	struct inode *f_inode;
} __attribute__((preserve_access_index));

/* The inode number of the marked file (0: none). */
volatile const __u64 target_ino = 0;

COUNTER_ARRAY(counts, 2);

static __always_inline int deny_marked(struct file *file, int ret, __u32 slot)
{
	if (ret)
		return ret;
	if (target_ino && file->f_inode->i_ino == target_ino) {
		counter_add(&counts, slot, 1);
		return -EPERM;
	}
	return 0;
}

SEC("lsm/file_open")
int BPF_PROG(lsm_deny, struct file *file, int ret)
{
	return deny_marked(file, ret, 0);
}

SEC("lsm")
int BPF_PROG(lsm_deny_any, struct file *file, int ret)
{
	return deny_marked(file, ret, 1);
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
