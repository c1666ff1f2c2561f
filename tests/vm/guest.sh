#!/bin/bash
# Runs inside the virtme-ng guest: prepares the kernel filesystems the vm tests need,
# runs them, and leaves rc, junit.xml, out.txt and kernel-report.json (which tests
# passed, which were too new for this kernel: see tests/conftest.py) in OUT_DIR for
# the host, because the exit status of vng itself does not carry the guest's status.
# Usage: guest.sh OUT_DIR [pytest args...]   (args default to "tests/")
set -u
out_dir=$1
shift
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

mount_if_missing() {  # TYPE DIR
    mountpoint -q "$2" || mount -t "$1" "$1" "$2"
}
# The guest has its own kernel, so its /sys/fs/bpf is private to it (never the host's);
# tools such as libxdp only look for bpffs there.
mount_if_missing tracefs /sys/kernel/tracing
mount_if_missing debugfs /sys/kernel/debug
mount_if_missing bpf /sys/fs/bpf
mount_if_missing securityfs /sys/kernel/security

# The checkout is read-only in the guest: keep bytecode and caches off it.
export BPFMAN_IN_VM=1 BPFMAN_VM_OUT="$out_dir" PYTHONDONTWRITEBYTECODE=1 PATH="$repo/.venv/bin:$PATH"
[ $# -gt 0 ] || set -- tests/
cd "$repo" || exit 1
"$repo/.venv/bin/python" -m pytest -m vm -p no:cacheprovider \
    --junitxml="$out_dir/junit.xml" "$@" 2>&1 | tee "$out_dir/out.txt"
echo "${PIPESTATUS[0]}" > "$out_dir/rc"
