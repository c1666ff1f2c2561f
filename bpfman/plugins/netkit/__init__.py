"""The netkit program type: programs on a netkit pair, ordered by the kernel (Linux >= 6.7).

``attach ID netkit -i IFACE -d primary|peer -p PRIO [-n NETNS]``: IFACE is the
primary device of the pair; ``peer`` programs run on what the peer sends,
``primary`` ones on what the primary sends. Links are placed by priority as
tcx links are (bpfman/plugins/multiprog.py).
"""
