"""bpfman as a service: the bpfman.v1 gRPC API on a Unix socket."""
