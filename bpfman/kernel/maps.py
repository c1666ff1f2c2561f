"""Reading and writing map entries by fd (user space's side of a map)."""

from __future__ import annotations

from bpfman.kernel.errcheck import check
from bpfman.kernel.lib import binding


def possible_cpus() -> int:
    """Number of possible CPUs: the slot count of per-CPU map values."""
    return check(binding().bpf.libbpf_num_possible_cpus(), "count possible CPUs")


def map_update(fd: int, key: bytes, value: bytes) -> None:
    """Create or replace one entry."""
    b = binding()
    check(b.bpf.bpf_map_update_elem(fd, key, value, 0), "map update")


def map_lookup_percpu(fd: int, key: bytes, value_size: int) -> list[bytes]:
    """One entry of a per-CPU map: a value for each possible CPU."""
    b = binding()
    stride = (value_size + 7) & ~7  # the kernel pads each CPU's value to 8 bytes
    cpus = possible_cpus()
    buf = b.ffi.new("char[]", stride * cpus)
    check(b.bpf.bpf_map_lookup_elem(fd, key, buf), "map lookup")
    raw = bytes(b.ffi.buffer(buf))
    return [raw[i * stride : i * stride + value_size] for i in range(cpus)]
