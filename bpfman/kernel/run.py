"""Running a loaded program on test input (``BPF_PROG_TEST_RUN``)."""

from __future__ import annotations

from bpfman.kernel.errcheck import check
from bpfman.kernel.lib import binding, capture_libbpf_messages


def prog_test_run(
    prog_fd: int, data: bytes, repeat: int = 1, ctx: bytes | None = None
) -> tuple[int, int]:
    """Run the program on ``data``; return (its return value, ns per run)."""
    b = binding()
    opts = b.ffi.new("struct bpf_test_run_opts *")
    opts.sz = b.ffi.sizeof("struct bpf_test_run_opts")
    data_in = b.ffi.from_buffer(data)
    opts.data_in = data_in
    opts.data_size_in = len(data)
    opts.repeat = repeat
    if ctx is not None:
        ctx_in = b.ffi.from_buffer(ctx)
        opts.ctx_in = ctx_in
        opts.ctx_size_in = len(ctx)
    with capture_libbpf_messages() as messages:
        rc = b.bpf.bpf_prog_test_run_opts(prog_fd, opts)
    check(rc, "prog_test_run", messages)
    return int(opts.retval), int(opts.duration)
