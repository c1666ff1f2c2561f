"""The reference bpfman's config files are accepted: known keys work, unknown ones warn."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from bpfman.config import load_config
from bpfman.images import ImageSettings
from tests.helpers.bpftool import net_show
from tests.helpers.chains import load_chain
from tests.helpers.net import VethPair
from tests.helpers.root import Root

REFERENCE_CONFIG = """
[interfaces.eth0]
xdp_mode = "drv"

[interfaces.eth1]
xdp_mode = "hw"
colour = "blue"

[signing]
allow_unsigned = true
verify_enabled = false

[[signing.trusted_identities]]
certificate_identity = "signer@example.com"
certificate_oidc_issuer = "https://github.com/login/oauth"

[database]
max_retries = 10
millisec_delay = 1000

[logging]
format = "text"
level = "debug"

[telemetry]
endpoint = "x"
"""


def test_reference_config_loads_with_warnings_for_unknown_keys_only(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "bpfman.toml").write_text(REFERENCE_CONFIG + '\n[images]\nspeed = "fast"\n')
    with caplog.at_level(logging.WARNING, logger="bpfman.config"):
        config = load_config(tmp_path / "bpfman.toml")
    warnings = [r.getMessage() for r in caplog.records]
    assert any("[telemetry]" in w for w in warnings)
    assert any("interfaces.eth1.colour" in w for w in warnings)
    assert any("images.speed" in w for w in warnings)
    assert any("trusted_identities" in w and "not checked" in w for w in warnings)
    assert len(warnings) == 4, warnings
    assert config.table("database")["max_retries"] == 10
    settings = ImageSettings.from_mapping(config.tables)
    assert settings.allow_unsigned and not settings.verify_enabled


@pytest.fixture
def pair() -> Iterator[VethPair]:
    with VethPair() as veth:
        yield veth


@pytest.mark.parametrize(("mode", "shown"), [("skb", "generic"), ("drv", "driver")])
def test_interfaces_xdp_mode_of_the_reference_config(
    direct: Root, objects: Path, pair: VethPair, mode: str, shown: str
) -> None:
    (direct.path / "bpfman.toml").write_text(
        f'[interfaces."{pair.if_b}"]\nxdp_mode = "{mode}"\n[database]\nmax_retries = 3\n'
    )
    prog = load_chain(direct, objects, "xdp", 0, 2)
    link = direct.attach(prog, "xdp", "-i", pair.if_b, "-p", 10, "-n", pair.netns_path_b)
    assert link["params"]["xdp_mode"] == {"skb": "skb", "drv": "driver"}[mode]
    assert [(e["id"], e["mode"]) for e in net_show(pair.if_b, pair.netns_path_b)["xdp"]] == [
        (prog, shown)
    ]
