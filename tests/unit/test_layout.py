"""The root's layout: every name under it is written once, in Layout, and never moves."""

from __future__ import annotations

import os
from pathlib import Path

from bpfman.core.bpffs import Layout


def test_every_path_under_the_root_is_the_layouts() -> None:
    layout = Layout(Path("/run/bpfman"))
    named = {
        "fs": layout.fs,
        "db": layout.db,
        "db/writer.lock": layout.lock,
        "bpfman.toml": layout.config,
        "plugins.cache": layout.plugins_cache,
        "images": layout.images,
        "csi/csi.sock": layout.csi_socket,
        "csi-volumes": layout.csi_volumes,
        "relay": layout.relay,
    }
    # The names older versions wrote: a root made by one is read by the other.
    assert {str(path.relative_to(layout.root)): path for path in named.values()} == {
        name: layout.root / name for name in named
    }
    assert layout.prog_pin(7) == layout.root / "fs/prog_7"
    assert layout.link_pin(9) == layout.root / "fs/links/9"
    assert layout.map_dir(7) == layout.root / "fs/maps/7"


def test_resolved_follows_the_roots_symlinks(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to("real")
    resolved = Layout(tmp_path / "link").resolved()
    assert resolved.root == Path(os.path.realpath(tmp_path)) / "real"
    assert resolved.csi_volumes == resolved.root / "csi-volumes"
