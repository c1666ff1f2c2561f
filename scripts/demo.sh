#!/usr/bin/env bash
# The main job as a demo: load, attach, order, inspect and remove programs on a veth
# pair between two network namespaces this script creates and removes again.
set -euo pipefail
cd "$(dirname "$0")/.."
BPFMAN=(.venv/bin/bpfman)
export BPFMAN_ROOT=/run/bpfman-demo
NS_A=bpfman-demo-a NS_B=bpfman-demo-b
OBJ=build/bpf

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ bpfman %s\n' "$*"; "${BPFMAN[@]}" "$@"; }
field() { "${BPFMAN[@]}" "$@" -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])'; }

cleanup() {
    set +e
    if [ -d "$BPFMAN_ROOT/db" ]; then
        for id in $("${BPFMAN[@]}" list programs -o json | python3 -c 'import json,sys; print(*[p["id"] for p in json.load(sys.stdin)])'); do
            "${BPFMAN[@]}" unload "$id"
        done
    fi
    ip netns del "$NS_A" 2>/dev/null; ip netns del "$NS_B" 2>/dev/null
    mountpoint -q "$BPFMAN_ROOT/fs" && umount "$BPFMAN_ROOT/fs"
    rm -rf "$BPFMAN_ROOT"
}
trap cleanup EXIT
cleanup

step "A veth pair between two network namespaces"
ip netns add "$NS_A"; ip netns add "$NS_B"
ip link add veth-a netns "$NS_A" type veth peer name veth-b netns "$NS_B"
ip -n "$NS_A" addr add 10.200.0.1/30 dev veth-a; ip -n "$NS_A" link set veth-a up
ip -n "$NS_B" addr add 10.200.0.2/30 dev veth-b; ip -n "$NS_B" link set veth-b up
make -s -C bpf >/dev/null

step "Load three tcx programs sharing their maps, and a tracepoint program"
first=$(field load file -p $OBJ/tcx_chain.bpf.o --programs tcx:tcx_chain -g prog_slot=00000000 -a demo)
second=$(field load file -p $OBJ/tcx_chain.bpf.o --programs tcx:tcx_chain -g prog_slot=01000000 -a demo --map-owner-id "$first")
third=$(field load file -p $OBJ/tcx_chain.bpf.o --programs tcx:tcx_chain -g prog_slot=02000000 -a demo --map-owner-id "$first")
tp=$(field load file -p $OBJ/tracepoint_counter.bpf.o --programs tracepoint:tracepoint_counter -a demo)
run list programs

step "Attach them: priorities 100, 50, 1000 on veth-b ingress inside $NS_B"
run attach "$first" tcx -d ingress -i veth-b -p 100 -n /var/run/netns/$NS_B
run attach "$second" tcx -d ingress -i veth-b -p 50 -n /var/run/netns/$NS_B >/dev/null
run attach "$third" tcx -d ingress -i veth-b -p 1000 -n /var/run/netns/$NS_B >/dev/null
run attach "$tp" tracepoint -t syscalls/sys_enter_getppid >/dev/null
run list links

step "Send 10 UDP packets through the chain; every program counts them, in priority order"
ip netns exec "$NS_A" python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(10):
    s.sendto(b"hello", ("10.200.0.2", 4242))'
sleep 0.2
maps=$BPFMAN_ROOT/fs/maps/$first
python3 - "$maps" <<'PY'
import json, subprocess, sys
def dump(name):
    out = subprocess.run(["bpftool", "-j", "map", "dump", "pinned", f"{sys.argv[1]}/{name}"],
                         check=True, capture_output=True, text=True).stdout
    entries = [e.get("formatted", e) for e in json.loads(out)]
    return {e["key"]: e["value"] for e in entries}
counts, last = dump("counts"), dump("last_seq")
for slot, prio in ((1, 50), (0, 100), (2, 1000)):
    print(f"  priority {prio:>4}: {counts[slot]} packets, ran at sequence {last[slot]}")
PY
run get program "$first" | sed -n '1,14p'

step "Detach the middle program: positions are renumbered"
middle=$("${BPFMAN[@]}" list links -o json | python3 -c 'import json,sys; print([l["id"] for l in json.load(sys.stdin) if l["position"] == 1][0])')
run detach "$middle"
run list links

step "Unload everything"
for id in "$first" "$second" "$third" "$tp"; do run unload "$id"; done
run list programs
echo "demo finished: everything it made is removed on exit"
