"""The tcx program type: the kernel orders programs on the hook itself (Linux >= 6.6)."""
