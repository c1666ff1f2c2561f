"""bpfman's CSI node plugin: pods get their own bpffs with a program's maps.

bpfman-operator registers the driver ``csi.bpfman.io`` with kubelet (through
csi-node-driver-registrar) and starts bpfman with ``--csi-support``. A pod
names a program and some of its maps in an inline volume; publishing it pins
those maps into a fresh bpffs, bind-mounted at the pod's target path, so a
container reads and updates them with no access to bpfman's own bpffs.

- :mod:`.request` checks what kubelet sends (pure logic);
- :mod:`.mounts` mounts, bind-mounts and unmounts without following symlinks;
- :mod:`.volumes` publishes and unpublishes, keeping a record per volume in
  bpfman's store, and reconciles those records with the mounts at start;
- :mod:`.server` serves the Identity and Node services on a Unix socket.

This module imports nothing heavy: the CLI reads its constants for help texts.
"""

from __future__ import annotations

DRIVER_NAME = "csi.bpfman.io"
PROGRAM_ATTRIBUTE = "csi.bpfman.io/program"
MAPS_ATTRIBUTE = "csi.bpfman.io/maps"
# The metadata bpfman-operator's agent gives every program it loads.
PROGRAM_NAME_KEY = "bpfman.io/ProgramName"
