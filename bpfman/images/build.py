"""``image build``: pack bytecode into an image and push it.

The native builder writes the same image a container engine makes from the
reference Containerfiles (config labels, a tar+gzip layer holding the ``.o``
at its root, an index for several architectures) with no engine at all.
The docker/podman path only drives the engine with the build args.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from bpfman.errors import ImageError, NotFoundError
from bpfman.images.buildargs import (
    BytecodeSources,
    describe_object,
    generate_build_args,
    labels_source,
    read_file,
)
from bpfman.images.credentials import login_auth
from bpfman.images.labels import make_labels
from bpfman.images.layer import build_layer
from bpfman.images.oci import (
    OCI_CONFIG,
    OCI_INDEX,
    OCI_LAYER_GZIP,
    OCI_MANIFEST,
    canonical_json,
    descriptor,
    host_goarch,
    sha256_digest,
)
from bpfman.images.reference import parse_reference
from bpfman.images.settings import ImageSettings

if TYPE_CHECKING:  # the registry stack is imported by a push, not by the CLI's tree
    from bpfman.images.transport import RegistryClient

RUNTIMES = ("docker", "podman", "native")


def build_native(
    sources: BytecodeSources,
    tag: str,
    settings: ImageSettings,
    infer_type: Callable[[str], str | None],
    auth: str | None = None,
) -> str:
    """Build and push the image ``tag``; the pushed digest.

    One ``--bytecode`` file makes a plain manifest for the host architecture;
    ``--cilium-ebpf-project`` and ``--bc-*`` make an index with one manifest
    per architecture. Credentials come from ``auth`` or the registry login files.
    """
    from bpfman.images.transport import RegistryClient

    ref = parse_reference(tag)
    files = sources.files()
    path, data = labels_source(files)
    labels = make_labels(*describe_object(data, os.path.basename(path), infer_type))
    client = RegistryClient(ref, settings, auth or login_auth(ref.registry))
    images = []
    for arch, file_path in files:
        goarch = arch.goarch if arch else host_goarch()
        manifest = _push_image(
            client, goarch, os.path.basename(file_path), read_file(file_path), labels
        )
        images.append((goarch, manifest))
    if files[0][0] is None:
        return client.put_manifest(ref.reference, images[0][1], OCI_MANIFEST)
    for _, manifest in images:
        client.put_manifest(sha256_digest(manifest), manifest, OCI_MANIFEST)
    index = canonical_json(
        {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                descriptor(OCI_MANIFEST, m, platform={"architecture": a, "os": "linux"})
                for a, m in images
            ],
        }
    )
    return client.put_manifest(ref.reference, index, OCI_INDEX)


def _push_image(
    client: RegistryClient, goarch: str, filename: str, data: bytes, labels: dict[str, str]
) -> bytes:
    """Push one architecture's layer and config; its manifest (not yet pushed)."""
    layer, tar = build_layer(filename, data)
    config = canonical_json(
        {
            "architecture": goarch,
            "os": "linux",
            "config": {"Labels": labels},
            "rootfs": {"type": "layers", "diff_ids": [sha256_digest(tar)]},
            "history": [{"created_by": f"bpfman image build (COPY {filename} /)"}],
        }
    )
    client.put_blob(layer)
    client.put_blob(config)
    return canonical_json(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": descriptor(OCI_CONFIG, config),
            "layers": [descriptor(OCI_LAYER_GZIP, layer)],
        }
    )


def build_with_runtime(
    runtime: str,
    container_file: str,
    tag: str,
    sources: BytecodeSources,
    infer_type: Callable[[str], str | None],
    settings: ImageSettings,
) -> None:
    """Build with docker or podman from the current directory, then push ``tag``.

    podman pushes to registries listed in ``images.insecure_registries``
    without TLS; docker takes that from its daemon's own configuration.
    """
    exe = shutil.which(runtime)
    if exe is None:
        raise NotFoundError(f"container runtime {runtime!r} not found; try --runtime native")
    if not Path(container_file).is_file():
        raise NotFoundError(f"container file {container_file} not found")
    args = [f"--build-arg={line}" for line in generate_build_args(sources, infer_type)]
    arches = [a for a, _ in sources.files() if a is not None]
    platforms = ",".join(f"linux/{a.goarch}" for a in arches)
    tls = ["--tls-verify=false"] if settings.is_insecure(parse_reference(tag).registry) else []
    if runtime == "docker" and arches:
        steps = [
            [
                exe,
                "buildx",
                "build",
                "--push",
                f"--platform={platforms}",
                *args,
                "-f",
                container_file,
                "-t",
                tag,
                ".",
            ]
        ]
    elif arches:
        steps = [
            [
                exe,
                "build",
                f"--platform={platforms}",
                *args,
                "-f",
                container_file,
                "--manifest",
                tag,
                ".",
            ],
            [exe, "manifest", "push", *tls, "--all", tag, f"docker://{tag}"],
        ]
    else:
        push = [exe, "push", *(tls if runtime == "podman" else []), tag]
        steps = [[exe, "build", *args, "-f", container_file, "-t", tag, "."], push]
    for cmd in steps:
        _run(cmd)


def _run(cmd: list[str]) -> None:
    try:
        done = subprocess.run(cmd, check=False)
    except OSError as e:
        raise ImageError(f"cannot run {cmd[0]}: {e.strerror}") from None
    if done.returncode != 0:
        raise ImageError(f"{' '.join(cmd[:2])} failed with exit status {done.returncode}")
