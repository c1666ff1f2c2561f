"""What a pull concluded about an image's signature, as recorded in the store.

Kept apart from the signing code so that loading a cached image needs
neither the crypto nor the registry stack.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from bpfman.images.oci import sha256_digest
from bpfman.images.settings import ImageSettings


class SignatureState(StrEnum):
    """What the signature check concluded for a pulled image."""

    UNCHECKED = "unchecked"
    UNSIGNED = "unsigned"
    VERIFIED = "verified"


def key_id(settings: ImageSettings) -> str | None:
    """A digest of the configured public key, so a cached verdict dies with a key change."""
    try:
        return (
            sha256_digest(Path(settings.public_key).read_bytes()) if settings.public_key else None
        )
    except OSError:
        return None
