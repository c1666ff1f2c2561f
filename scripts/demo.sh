#!/usr/bin/env bash
# The main job as a demo: the guide's tutorial (several XDP programs ordered on one
# interface), then TCX and a tracepoint, on a veth pair between two network
# namespaces this script creates and removes again.
set -euo pipefail
cd "$(dirname "$0")/.."
export BPFMAN_ROOT=/run/bpfman-demo
# shellcheck source=scripts/demo-lib.sh
. scripts/demo-lib.sh
trap cleanup EXIT
cleanup
make -s -C bpf >/dev/null

freplace=$(.venv/bin/python -c 'from bpfman.dispatcher.loader import freplace_support as f; s = f(); print("yes" if s.supported else s.refusal)')
if [ "$freplace" = yes ]; then
    scripts/demo-xdp.sh
else
    step "This kernel ($(uname -r)) cannot run XDP dispatchers: $freplace"
    echo "Running the XDP tutorial in a QEMU guest with Debian's kernel instead (about a minute)."
    scripts/in-vm.sh scripts/demo-xdp.sh
fi

step "TCX on this kernel: a veth pair between two network namespaces"
veth_pair

step "Load three tcx programs sharing their maps, and a tracepoint program"
first=$(first_id load file -p $OBJ/tcx_chain.bpf.o --programs tcx:tcx_chain -g prog_slot=00000000 -a demo)
second=$(first_id load file -p $OBJ/tcx_chain.bpf.o --programs tcx:tcx_chain -g prog_slot=01000000 -a demo --map-owner-id "$first")
third=$(first_id load file -p $OBJ/tcx_chain.bpf.o --programs tcx:tcx_chain -g prog_slot=02000000 -a demo --map-owner-id "$first")
tp=$(first_id load file -p $OBJ/tracepoint_counter.bpf.o --programs tracepoint:tracepoint_counter -a demo)
run list programs

step "Attach them: priorities 100, 50, 1000 on veth-b ingress inside $NS_B"
run attach "$first" tcx -d ingress -i veth-b -p 100 -n "$NETNS_B"
run attach "$second" tcx -d ingress -i veth-b -p 50 -n "$NETNS_B" | grep -E '^\$ bpfman|Priority|Position'
run attach "$third" tcx -d ingress -i veth-b -p 1000 -n "$NETNS_B" | grep -E '^\$ bpfman|Priority|Position'
run attach "$tp" tracepoint -t syscalls/sys_enter_getppid | grep -E '^\$ bpfman|Tracepoint'
run list links

step "Send 10 UDP packets through the chain; every program counts them, in priority order"
send_udp 10
show_order "$BPFMAN_ROOT/fs/maps/$first" 0:"priority 100" 1:"priority 50" 2:"priority 1000"
run get program "$first" | sed -n '1,14p'

step "Detach the middle program: positions are renumbered"
middle=$(json list links | python3 -c 'import json,sys; print([l["id"] for l in json.load(sys.stdin) if l["position"] == 1][0])')
run detach "$middle"
run list links

step "Unload everything"
for id in "$first" "$second" "$third" "$tp"; do run unload "$id"; done
run list programs
echo "demo finished: everything it made is removed on exit"
