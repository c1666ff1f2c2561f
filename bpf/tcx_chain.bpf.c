// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* One link of a TCX chain; the kernel orders the links (no dispatcher). */
#include "chain.h"

/* Debian's 6.1 uapi headers predate TCX, so the verdicts are spelled out here. */
#define TCX_NEXT -1
#define TCX_PASS 0
#define TCX_DROP 2
#define TCX_REDIRECT 7

/* What a matching packet gets; TCX_NEXT lets the next link run. */
volatile const __s32 verdict = TCX_NEXT;

/* "tc", not "tcx/ingress": libbpf 1.1 cannot guess a type from the latter. */
SEC("tc")
int tcx_chain(struct __sk_buff *skb)
{
	if (!chain_matches((void *)(long)skb->data, (void *)(long)skb->data_end))
		return TCX_NEXT;
	chain_record();
	return verdict;
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
