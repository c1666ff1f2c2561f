"""Image references: ``[registry/]repository[:tag][@sha256:hex]``.

Docker's rules: the first path component is a registry when it has a dot or
a colon or is ``localhost``; otherwise the image lives on Docker Hub, where
one-component names belong to ``library/``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bpfman.errors import InvalidInputError

DEFAULT_REGISTRY = "docker.io"
_DOCKER_HUB_API = "registry-1.docker.io"
_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
_TAG = re.compile(r"[\w][\w.-]{0,127}")
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
_HOST = re.compile(r"[A-Za-z0-9.-]+(?::[0-9]+)?|\[[0-9a-fA-F:]+\](?::[0-9]+)?")


@dataclass(frozen=True)
class ImageRef:
    """A parsed reference; ``digest`` wins over ``tag`` when both are given."""

    registry: str
    repository: str
    tag: str | None
    digest: str | None

    @property
    def api_host(self) -> str:
        """The host[:port] that serves the distribution API."""
        return _DOCKER_HUB_API if self.registry == DEFAULT_REGISTRY else self.registry

    @property
    def name(self) -> str:
        """``registry/repository``, as written in signatures."""
        return f"{self.registry}/{self.repository}"

    @property
    def reference(self) -> str:
        """What to ask the manifest endpoint for."""
        return self.digest or self.tag or "latest"

    def __str__(self) -> str:
        text = self.name
        if self.tag:
            text += f":{self.tag}"
        if self.digest:
            text += f"@{self.digest}"
        return text


def parse_reference(url: str) -> ImageRef:
    """Parse ``url``; a malformed reference is an input error naming the part."""
    text = url.strip()
    if not text or any(c.isspace() for c in text):
        raise InvalidInputError(f"invalid image URL {url!r}: empty or contains spaces")
    if "://" in text:
        raise InvalidInputError(f"invalid image URL {url!r}: leave out the scheme")
    digest: str | None = None
    if "@" in text and not text.split("@", 1)[1].startswith("sha256:"):
        # user:password@registry/...: never repeat it, it holds a password.
        raise InvalidInputError(
            "invalid image URL: it holds credentials before '@'; "
            "give them with --registry-auth instead"
        )
    if "@" in text:
        text, digest = text.split("@", 1)
        if not _DIGEST.fullmatch(digest):
            raise InvalidInputError(f"invalid image URL {url!r}: digest must be sha256:<64 hex>")
    first, sep, rest = text.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        if not _HOST.fullmatch(first):
            raise InvalidInputError(f"invalid image URL {url!r}: bad registry {first!r}")
        registry, path = first, rest
    else:
        registry, path = DEFAULT_REGISTRY, text
    tag: str | None = None
    last = path.rsplit("/", 1)[-1]
    if ":" in last:
        path, tag = path.rsplit(":", 1)
        if not _TAG.fullmatch(tag):
            raise InvalidInputError(f"invalid image URL {url!r}: bad tag {tag!r}")
    if registry == DEFAULT_REGISTRY and "/" not in path:
        path = f"library/{path}"
    if not path or not all(_COMPONENT.fullmatch(c) for c in path.split("/")):
        raise InvalidInputError(
            f"invalid image URL {url!r}: repository must be lowercase letters, digits and . _ -"
        )
    if tag is None and digest is None:
        tag = "latest"
    return ImageRef(registry, path, tag, digest)
