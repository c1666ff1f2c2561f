"""What a bpfman root holds, by name, and where the root is by default.

:class:`~.bpffs.Layout` builds every path under a root from these names.
``list``, which cannot afford :mod:`pathlib` (a fifth of its time), joins the
few it reads itself (:mod:`.listing`).
"""

from __future__ import annotations

import os

DEFAULT_ROOT = "/run/bpfman"
ROOT_ENV = "BPFMAN_ROOT"

FS = "fs"  # bpfman's own bpffs
LINKS = "links"  # in the bpffs: the core's link pins
DB = "db"  # the store
DATA_FILE = "data.mdb"  # in the store: LMDB's name for its data file
LOCK_FILE = "writer.lock"  # in the store: the writers' lock
CONFIG = "bpfman.toml"
PLUGINS_CACHE = "plugins.cache"
IMAGES = "images"
CSI_SOCKET = "csi/csi.sock"  # bpfman-operator's DaemonSet mounts the registrar's directory at csi/
CSI_VOLUMES = "csi-volumes"
RELAY = "relay"


def default_root() -> str:
    """``$BPFMAN_ROOT``, else ``/run/bpfman``."""
    return os.environ.get(ROOT_ENV) or DEFAULT_ROOT
