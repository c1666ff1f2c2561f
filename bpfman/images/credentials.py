"""Registry credentials: ``--registry-auth`` values and the login files.

Credentials live in memory only; nothing here writes them anywhere.
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

from bpfman.errors import InvalidInputError

_MALFORMED = "registry auth must be base64 of 'user:password'"


def decode_auth(auth: str) -> tuple[str, str]:
    """``(user, password)`` from base64 ``user:password`` (docker's config format).

    Image pulls check the value this way before anything else, cache hits
    included, so a malformed one is refused even where no login is needed.
    """
    try:
        text = base64.b64decode(auth.strip(), validate=True).decode()
    except ValueError:  # bad base64, non-ASCII input or non-UTF-8 content
        raise InvalidInputError(_MALFORMED) from None
    user, sep, password = text.partition(":")
    if not sep or not user:
        raise InvalidInputError(_MALFORMED)
    return user, password


def encode_auth(user: str, password: str) -> str:
    """The base64 ``user:password`` form that ``--registry-auth`` takes.

    A user name with a colon has no such form (the password starts at the
    first colon), so it is refused rather than split wrongly.
    """
    if ":" in user:
        raise InvalidInputError("a registry user name cannot contain ':'")
    return base64.b64encode(f"{user}:{password}".encode()).decode()


def login_auth(host: str) -> str | None:
    """The base64 auth a ``docker login``/``podman login`` stored for ``host``.

    Pushes (``image build --runtime native``, ``image sign``) behave like
    ``docker push``: the user logs in first. Looked up in ``$REGISTRY_AUTH_FILE``,
    podman's ``auth.json`` (under ``$XDG_RUNTIME_DIR/containers`` or
    ``/run/containers/<uid>``) and ``$DOCKER_CONFIG/config.json`` (default
    ``~/.docker``); credential helpers are not consulted.
    """
    for path in _auth_files():
        try:
            auths = json.loads(path.read_text()).get("auths", {})
        except (OSError, ValueError, AttributeError):
            continue
        for key, entry in auths.items() if isinstance(auths, dict) else ():
            if _host_of(key) == host and isinstance(entry, dict):
                value = entry.get("auth")
                if isinstance(value, str) and value:
                    return value
    return None


def _auth_files() -> list[Path]:
    files = []
    if os.environ.get("REGISTRY_AUTH_FILE"):
        files.append(Path(os.environ["REGISTRY_AUTH_FILE"]))
    if os.environ.get("XDG_RUNTIME_DIR"):
        files.append(Path(os.environ["XDG_RUNTIME_DIR"]) / "containers" / "auth.json")
    else:
        files.append(Path(f"/run/containers/{os.getuid()}/auth.json"))
    docker_dir = os.environ.get("DOCKER_CONFIG") or str(Path.home() / ".docker")
    files.append(Path(docker_dir) / "config.json")
    return files


def _host_of(key: str) -> str:
    host = key.split("://", 1)[-1].split("/", 1)[0]
    return "docker.io" if host in ("index.docker.io", "registry-1.docker.io") else host
