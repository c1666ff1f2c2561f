"""The fentry and fexit program types: the target is fixed at load time."""
