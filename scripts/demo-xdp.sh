#!/usr/bin/env bash
# The tutorial flow of the bpfman guide: four XDP programs share one interface
# through a dispatcher, ordered by priority; unloading one re-orders the rest.
set -euo pipefail
cd "$(dirname "$0")/.."
export BPFMAN_ROOT=${BPFMAN_ROOT:-/run/bpfman-demo-xdp}
# shellcheck source=scripts/demo-lib.sh
. scripts/demo-lib.sh
trap cleanup EXIT
cleanup

step "A veth pair between two network namespaces"
veth_pair

step "Load four XDP programs (they pass every packet and count it in shared maps)"
owner=$(first_id load file -p $OBJ/xdp_chain.bpf.o --programs xdp:xdp_chain -g prog_slot=00000000 -a tutorial)
ids=("$owner")
for slot in 01 02 03; do
    ids+=("$(first_id load file -p $OBJ/xdp_chain.bpf.o --programs xdp:xdp_chain -g prog_slot=${slot}000000 -a tutorial --map-owner-id "$owner")")
done
run list programs --application tutorial

step "Attach them at priorities 100, 50, 200, then 150 with --proceed-on"
run attach "${ids[0]}" xdp --iface veth-b --priority 100 -n "$NETNS_B"
run attach "${ids[1]}" xdp --iface veth-b --priority 50 -n "$NETNS_B" | grep -E '^\$ bpfman|Priority|Position'
run attach "${ids[2]}" xdp --iface veth-b --priority 200 -n "$NETNS_B" | grep -E '^\$ bpfman|Priority|Position'
run attach "${ids[3]}" xdp --iface veth-b --priority 150 -n "$NETNS_B" --proceed-on pass --proceed-on dispatcher_return | grep -E '^\$ bpfman|Priority|Position|Proceed'
run list links

step "Send 10 UDP packets: every program sees them, lowest priority first"
send_udp 10
show_order "$BPFMAN_ROOT/fs/maps/$owner" 0:"priority 100" 1:"priority 50" 2:"priority 200" 3:"priority 150"

step "Unload the program at position 1 (priority 100): the others are renumbered"
run unload "${ids[0]}"
run list links
send_udp 10
show_order "$BPFMAN_ROOT/fs/maps/$owner" 1:"priority 50" 2:"priority 200" 3:"priority 150"

step "Unload the rest"
for id in "${ids[@]:1}"; do run unload "$id"; done
run list programs
echo "XDP tutorial finished"
