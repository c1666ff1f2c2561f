# Shared by the demo scripts: output helpers, the veth pair, and cleanup.
# shellcheck shell=bash
BPFMAN=(.venv/bin/bpfman)
OBJ=build/bpf
NS_A=bpfman-demo-a NS_B=bpfman-demo-b
NETNS_B=/var/run/netns/$NS_B

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ bpfman %s\n' "$*"; "${BPFMAN[@]}" "$@"; }
json() { "${BPFMAN[@]}" "$@" -o json; }
first_id() { json "$@" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["id"])'; }

cleanup() {
    set +e
    if [ -d "$BPFMAN_ROOT/db" ]; then
        for id in $(json list programs | python3 -c 'import json,sys; print(*[p["id"] for p in json.load(sys.stdin)])'); do
            "${BPFMAN[@]}" unload "$id"
        done
    fi
    ip netns del "$NS_A" 2>/dev/null; ip netns del "$NS_B" 2>/dev/null
    mountpoint -q "$BPFMAN_ROOT/fs" && umount "$BPFMAN_ROOT/fs"
    rm -rf "$BPFMAN_ROOT"
}

veth_pair() {
    ip netns add "$NS_A"; ip netns add "$NS_B"
    ip link add veth-a netns "$NS_A" type veth peer name veth-b netns "$NS_B"
    ip -n "$NS_A" addr add 10.200.0.1/30 dev veth-a; ip -n "$NS_A" link set veth-a up
    ip -n "$NS_B" addr add 10.200.0.2/30 dev veth-b; ip -n "$NS_B" link set veth-b up
}

send_udp() {  # COUNT: datagrams from NS_A to NS_B port 4242
    ip netns exec "$NS_A" python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for _ in range(int(sys.argv[1])):
    s.sendto(b"hello", ("10.200.0.2", 4242))' "$1"
    sleep 0.2
}

show_order() {  # MAP_DIR "SLOT:LABEL"...: per-program counts and the order they ran in
    python3 - "$@" <<'PY'
import json, subprocess, sys
def dump(name):
    out = subprocess.run(["bpftool", "-j", "map", "dump", "pinned", f"{sys.argv[1]}/{name}"],
                         check=True, capture_output=True, text=True).stdout
    return {e["key"]: e["value"] for e in (x.get("formatted", x) for x in json.loads(out))}
counts, last = dump("counts"), dump("last_seq")
rows = [arg.split(":", 1) for arg in sys.argv[2:]]
for slot, label in sorted(rows, key=lambda r: last[int(r[0])]):
    print(f"  {label:>14}: {counts[int(slot)]} packets, ran at sequence {last[int(slot)]}")
PY
}
