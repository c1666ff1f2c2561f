"""``bpfman image``: pull, build, generate-build-args and sign bytecode images.

Built by :func:`make_image_group` so the main CLI decides where the store
lives and which program types exist; nothing is wired at import time.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import click

from bpfman.cli.app import App
from bpfman.core.errors import InvalidInputError
from bpfman.images import (
    ARCHES,
    BytecodeSources,
    ImageStore,
    PullPolicy,
    generate_build_args,
    parse_reference,
)
from bpfman.images.build import RUNTIMES, build_native, build_with_runtime
from bpfman.images.credentials import login_auth

if TYPE_CHECKING:  # the registry and crypto stacks: imported by the commands that use them
    from bpfman.images.transport import Progress

F = TypeVar("F", bound=Callable[..., Any])
InferType = Callable[[str], str | None]
CONTEXT = {"help_option_names": ["-h", "--help"]}
_PROGRESS_MIN_BYTES = 1 << 20

IMAGE_URL_HELP = (
    "Required: Container Image URL.\nExample: --image-url quay.io/bpfman-bytecode/xdp_pass:latest"
)
REGISTRY_AUTH_HELP = (
    "Optional: Registry auth for authenticating with the specified image registry.\n"
    "This should be base64 encoded from the '<username>:<password>' string just like\n"
    "it's stored in the docker/podman host config.\n"
    'Example: --registry_auth "YnjrcKw63PhDcQodiU9hYxQ2"'
)
PULL_POLICY_HELP = (
    "Optional: Pull policy for remote images.\n\n[possible values: Always, IfNotPresent, Never]"
)
BYTECODE_HELP = (
    "Optional: bytecode file to use for building the image assuming host architecture.\n"
    "Example: -b ./examples/go-xdp-counter/bpf_x86_bpfel.o"
)
CILIUM_HELP = (
    "Optional: If specified pull multi-arch bytecode files from a cilium/ebpf formatted project\n"
    "where the bytecode files all contain a standard bpf_<GOARCH>_<(el/eb)>.o tag.\n"
    "Example: --cilium-ebpf-project ./examples/go-xdp-counter"
)
SOURCES_TEXT = """To use, the --container-file and --tag must be included, as well as a pointer to
at least one bytecode file that can be passed in several ways. Use either:

* --bytecode: for a single bytecode built for the host architecture.

* --cilium-ebpf-project: for a cilium/ebpf project directory which contains
multiple object files for different architectures.

* --bc-386-el .. --bc-s390x-eb: to add one or more architecture specific bytecode files."""
BUILD_HELP = f"""Build an eBPF bytecode image from local bytecode objects and push to a registry.

{SOURCES_TEXT}

Examples:
bpfman image build -f Containerfile.bytecode -t quay.io/<USER>/go-xdp-counter:test \\
-b ./examples/go-xdp-counter/bpf_x86_bpfel.o"""
GENERATE_HELP = f"""Generate the OCI image labels for a given bytecode file.

{SOURCES_TEXT}

Examples:
bpfman image generate-build-args --bc-amd64-el ./examples/go-xdp-counter/bpf_x86_bpfel.o"""
RUNTIME_HELP = (
    "Optional: Container runtime to use, works with docker or podman, defaults to docker\n"
    "Example: --runtime podman\n\n"
    "native builds the same image without any container engine and pushes it itself,\n"
    "with the credentials of a previous docker/podman login."
)
SIGN_HELP = """Sign a bytecode image in a registry with a key, in cosign's format.

The signature is pushed next to the image under the tag sha256-<digest>.sig, so
cosign and bpfman (signing.verify_enabled with signing.public_key) can verify it.

Example:
bpfman image sign --key signing.pem -i quay.io/<USER>/go-xdp-counter:test"""

TAG_HELP = (
    "Required: Name and optionally a tag in the name:tag format.\n"
    "Example: --tag quay.io/bpfman-bytecode/xdp_pass:latest"
)
CONTAINER_FILE_HELP = (
    "Required: Dockerfile to use for building the image.\n"
    "Example: --container_file Containerfile.bytecode\n\n"
    "Not used with --runtime native."
)
KEY_HELP = (
    "Required: PEM private key to sign with (ECDSA P-256 like cosign's, RSA or Ed25519).\n"
    "An encrypted key is decrypted with $COSIGN_PASSWORD.\n"
    "Example: --key signing.pem"
)


def verbatim(text: str) -> str:
    """``text`` with each paragraph marked so click keeps its line breaks."""
    return "\n\n".join("\b\n" + para for para in text.split("\n\n"))


def _arch_help(goarch: str, suffix: str) -> str:
    described = "amd64" if goarch == "386" else goarch  # the reference CLI's wording
    filename = "x86" if goarch == "amd64" else goarch
    order = suffix.rsplit("-", 1)[1]
    return (
        f"Optional: bytecode file to use for building the image assuming {described}"
        f" architecture.\nExample: --bc-{suffix} ./examples/go-xdp-counter/"
        f"bpf_{filename}_bpf{order}.o"
    )


def _bytecode_options(fn: F) -> F:
    """``-b``, ``-c`` and ``--bc-<arch>``, shared by build and generate-build-args."""
    for arch in reversed(ARCHES):
        fn = click.option(
            f"--{arch.option}",
            help=verbatim(_arch_help(arch.goarch, arch.suffix)),
            metavar=f"<{arch.build_arg}>",
        )(fn)
    fn = click.option(
        "-c", "--cilium-ebpf-project", metavar="<CILIUM_EBPF_PROJECT>", help=verbatim(CILIUM_HELP)
    )(fn)
    return click.option("-b", "--bytecode", metavar="<BYTECODE>", help=verbatim(BYTECODE_HELP))(fn)


def _sources(flags: dict[str, Any]) -> BytecodeSources:
    per_arch = tuple(
        (arch.goarch, flags[arch.option.replace("-", "_")])
        for arch in ARCHES
        if flags.get(arch.option.replace("-", "_"))
    )
    return BytecodeSources(flags.get("bytecode"), flags.get("cilium_ebpf_project"), per_arch)


@contextmanager
def _progress() -> Iterator[Progress | None]:
    """A progress bar for large layers, only when stdout is a terminal."""
    if not sys.stdout.isatty():
        yield None
        return
    bar: Any = None
    shown = 0

    def update(done: int, total: int) -> None:
        nonlocal bar, shown
        if bar is None and total >= _PROGRESS_MIN_BYTES:
            bar = click.progressbar(length=total, label="Downloading bytecode")
            bar.__enter__()
        if bar is not None:
            bar.update(done - shown)
            shown = done

    try:
        yield update
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)


def make_image_group(get_store: Callable[[], ImageStore], infer_type: InferType) -> click.Group:
    """The ``image`` command group over the store ``get_store`` returns."""
    group = click.Group(
        "image", help="eBPF Bytecode Image related commands.", context_settings=CONTEXT
    )

    @group.command("pull", help="Pull an eBPF bytecode image from a remote registry.")
    @click.option(
        "-i", "--image-url", required=True, metavar="<IMAGE_URL>", help=verbatim(IMAGE_URL_HELP)
    )
    @click.option(
        "-r", "--registry-auth", metavar="<REGISTRY_AUTH>", help=verbatim(REGISTRY_AUTH_HELP)
    )
    @click.option(
        "-p",
        "--pull-policy",
        type=click.Choice([p.value for p in PullPolicy]),
        default=PullPolicy.IF_NOT_PRESENT.value,
        metavar="<PULL_POLICY>",
        show_default=True,
        help=verbatim(PULL_POLICY_HELP),
    )
    def pull(image_url: str, registry_auth: str | None, pull_policy: str) -> None:
        with _progress() as progress:
            get_store().pull(
                image_url, PullPolicy.parse(pull_policy), registry_auth, progress=progress
            )
        click.echo("Successfully downloaded bytecode")

    @group.command("build", help=verbatim(BUILD_HELP))
    @click.option("-t", "--tag", required=True, metavar="<TAG>", help=verbatim(TAG_HELP))
    @click.option(
        "-f", "--container-file", metavar="<CONTAINER_FILE>", help=verbatim(CONTAINER_FILE_HELP)
    )
    @click.option(
        "-r",
        "--runtime",
        type=click.Choice(RUNTIMES),
        default="docker",
        metavar="<RUNTIME>",
        help=verbatim(RUNTIME_HELP),
    )
    @_bytecode_options
    def build(tag: str, container_file: str | None, runtime: str, **flags: Any) -> None:
        sources = _sources(flags)
        settings = get_store().settings
        if runtime == "native":
            digest = build_native(sources, tag, settings, infer_type)
            click.echo(f"Pushed {tag} ({digest})")
            return
        if not container_file:
            raise InvalidInputError(f"--container-file is required with --runtime {runtime}")
        build_with_runtime(runtime, container_file, tag, sources, infer_type, settings)

    @group.command("generate-build-args", help=verbatim(GENERATE_HELP))
    @_bytecode_options
    def generate(**flags: Any) -> None:
        for line in generate_build_args(_sources(flags), infer_type):
            click.echo(line)

    @group.command("sign", help=verbatim(SIGN_HELP))
    @click.option("--key", required=True, metavar="<KEY>", help=verbatim(KEY_HELP))
    @click.option(
        "-i", "--image-url", required=True, metavar="<IMAGE_URL>", help=verbatim(IMAGE_URL_HELP)
    )
    @click.option(
        "-r", "--registry-auth", metavar="<REGISTRY_AUTH>", help=verbatim(REGISTRY_AUTH_HELP)
    )
    def sign(key: str, image_url: str, registry_auth: str | None) -> None:
        from bpfman.images.signing import load_private_key, sign_image
        from bpfman.images.transport import RegistryClient

        private_key = load_private_key(key)
        ref = parse_reference(image_url)
        auth = registry_auth or login_auth(ref.registry)
        client = RegistryClient(ref, get_store().settings, auth)
        digest = sign_image(client, ref, private_key)
        click.echo(f"Pushed signature for {ref.name}@{digest}")

    return group


def _app() -> App:
    found = click.get_current_context().find_object(App)
    assert found is not None
    return found


image = make_image_group(
    lambda: _app().bpfman.images, lambda section: _app().bpfman.plugins.image_label(section)
)
