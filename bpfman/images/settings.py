"""Image settings from the config file, and the pull policies.

The ``[images]`` table holds transport settings, the ``[signing]`` table the
cosign verification settings; both are optional so a config without them
keeps bpfman's defaults (TLS only, no signature checks, 64 MiB layers).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from bpfman.config import validate
from bpfman.errors import InvalidInputError


class PullPolicy(StrEnum):
    """When a pull may use the network (same names as Kubernetes)."""

    ALWAYS = "Always"
    IF_NOT_PRESENT = "IfNotPresent"
    NEVER = "Never"

    @classmethod
    def parse(cls, text: str) -> PullPolicy:
        """The policy named ``text``; an unknown name is an input error."""
        for policy in cls:
            if policy.value == text:
                return policy
        names = ", ".join(p.value for p in cls)
        raise InvalidInputError(f"invalid pull policy {text!r}: expected one of {names}")


@dataclass(frozen=True)
class ImageSettings:
    """How images are fetched and checked.

    ``insecure_registries`` lists ``host[:port]`` registries that may be
    reached over plain HTTP; any other registry is HTTPS only, loopback
    included, so plain HTTP is always an explicit choice. ``max_layer_bytes``
    bounds both the downloaded and the unpacked size of the bytecode layer so
    a hostile image cannot exhaust memory.
    """

    insecure_registries: tuple[str, ...] = ()
    verify_enabled: bool = False
    allow_unsigned: bool = True
    public_key: str | None = None
    max_layer_bytes: int = 64 << 20

    @classmethod
    def from_mapping(cls, d: Mapping[str, Any]) -> ImageSettings:
        """Settings from a parsed config (its ``images`` and ``signing`` tables).

        The types are checked by the configuration's one schema
        (:func:`bpfman.config.validate`), here too for a mapping built by hand.
        """
        validate(d)
        images, signing = d.get("images", {}), d.get("signing", {})
        return cls(
            insecure_registries=tuple(images.get("insecure_registries", ())),
            verify_enabled=signing.get("verify_enabled", cls.verify_enabled),
            allow_unsigned=signing.get("allow_unsigned", cls.allow_unsigned),
            public_key=signing.get("public_key"),
            max_layer_bytes=images.get("max_layer_bytes", cls.max_layer_bytes),
        )

    def is_insecure(self, host: str) -> bool:
        """Whether ``host`` (``name[:port]``) was listed for plain HTTP."""
        return host in self.insecure_registries
