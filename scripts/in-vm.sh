#!/usr/bin/env bash
# Run a command as root in a QEMU guest booted with Debian's kernel (virtme-ng),
# with this checkout visible at the same path; exits with the command's status.
# Usage: scripts/in-vm.sh COMMAND [ARGS...]
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
kernel=${BPFMAN_VM_KERNEL:-$(ls /boot/vmlinuz-* | grep -v "vmlinuz-$(uname -r)$" | sort -V | tail -n 1)}
out=$(mktemp -d /tmp/bpfman-vm-XXXXXX)
trap 'rm -rf "$out"' EXIT
cat > "$out/run.sh" <<INNER
mountpoint -q /sys/kernel/tracing || mount -t tracefs tracefs /sys/kernel/tracing
cd $(printf %q "$repo")
export PATH=$(printf %q "$repo/.venv/bin"):\$PATH PYTHONDONTWRITEBYTECODE=1
$(printf '%q ' "$@")
echo \$? > $out/rc
INNER
# Software emulation: KVM guests hang before the kernel prints anything on these hosts;
# one emulated CPU (two made every guest about seven times slower, see tests/vm/runner.py).
# Through a pipe: vng reopens its output, which would overwrite a redirected file.
PATH="$repo/.venv/bin:$PATH" setsid vng -r "$kernel" --disable-kvm --force-9p --cpus 1 -m 1G \
    --rwdir "$out" --exec "bash $out/run.sh" </dev/null 2>&1 | cat
exit "$(cat "$out/rc" 2>/dev/null || echo 1)"
