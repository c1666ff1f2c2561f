"""``bpfman image``: pull, build, generate-build-args and sign bytecode images.

Built by :func:`make_image_group` so the main CLI decides where the store
lives and which program types exist; nothing is wired at import time.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar

import click

from bpfman.cli.app import App
from bpfman.cli.options import (
    IMAGE_URL_HELP,
    REGISTRY_AUTH_HELP,
    BpfmanGroup,
    HelpArgument,
    output_option,
)
from bpfman.cli.output import Value, block, dumps
from bpfman.errors import InvalidInputError
from bpfman.images import (
    ARCHES,
    BytecodeSources,
    ImageSettings,
    ImageStore,
    PullPolicy,
    generate_build_args,
    parse_reference,
)
from bpfman.images.build import RUNTIMES, build_native, build_with_runtime
from bpfman.images.credentials import login_auth

if TYPE_CHECKING:  # the registry and crypto stacks: imported by the commands that use them
    from bpfman.images.inspect import Inspection
    from bpfman.images.transport import Progress

F = TypeVar("F", bound=Callable[..., Any])
InferType = Callable[[str], str | None]
_PROGRESS_MIN_BYTES = 1 << 20

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
SOURCES_TEXT = """* --bytecode: for a single bytecode built for the host architecture.

* --cilium-ebpf-project: for a cilium/ebpf project directory which contains
  multiple object files for different architectures.

* --bc-386-el .. --bc-s390x-eb: to add one or more architecture specific bytecode files."""
BUILD_HELP = f"""Build an eBPF bytecode image from local bytecode objects and push to a registry.

To use, the --container-file (except with --runtime native) and --tag must be
included, as well as a pointer to at least one bytecode file that can be passed
in several ways. Use either:

{SOURCES_TEXT}

Examples:
   bpfman image build -f Containerfile.bytecode \\
     -t quay.io/<USER>/go-xdp-counter:test \\
     -b ./examples/go-xdp-counter/bpf_x86_bpfel.o"""
GENERATE_HELP = f"""Generate the OCI image labels for a given bytecode file.

To use, include a pointer to at least one bytecode file, which can be passed in
several ways. Use either:

{SOURCES_TEXT}

Examples:
   bpfman image generate-build-args \\
     --bc-amd64-el ./examples/go-xdp-counter/bpf_x86_bpfel.o"""
RUNTIME_HELP = (
    "Optional: Container runtime to use, works with docker or podman, defaults to docker\n"
    "Example: --runtime podman\n\n"
    "native builds the same image without any container engine and pushes it itself,\n"
    "with the credentials of a previous docker/podman login."
)
INSPECT_HELP = """Show what a bytecode image holds: its programs and their types, its maps,
its labels and layers, read from the registry. Nothing is pulled or loaded.

A multi-arch image shows the platforms it has and the entry for this host.

Example:
   bpfman image inspect quay.io/bpfman-bytecode/go-xdp-counter:latest"""
VERIFY_HELP = """Check a bytecode image's signature (cosign's format) against a public key,
as a pull with signing.verify_enabled does, and nothing else.

Exit status 0: the signature verifies (or, with --allow-unsigned, there is none);
8: the image is not signed, or no signature verifies against the key.

Example:
   bpfman image verify --public-key cosign.pub \\
     quay.io/<USER>/go-xdp-counter:test"""
PUBLIC_KEY_HELP = """Optional: PEM public key to verify with [default: signing.public_key of the config]
Example: --public-key cosign.pub"""
ALLOW_UNSIGNED_HELP = """Optional: Accept an image with no signature at all (one that does not verify
is still refused)."""
SIGN_HELP = """Sign a bytecode image in a registry with a key, in cosign's format.

The signature is pushed next to the image under the tag sha256-<digest>.sig, so
cosign and bpfman (signing.verify_enabled with signing.public_key) can verify it.

Example:
   bpfman image sign --key signing.pem \\
     -i quay.io/<USER>/go-xdp-counter:test"""

TAG_HELP = (
    "Required: Name and optionally a tag in the name:tag format.\n"
    "Example: --tag quay.io/bpfman-bytecode/xdp_pass:latest"
)
CONTAINER_FILE_HELP = (
    "Required: Dockerfile to use for building the image.\n"
    "Example: --container-file Containerfile.bytecode\n\n"
    "Not used with --runtime native."
)
KEY_HELP = (
    "Required: PEM private key to sign with (ECDSA P-256 like cosign's, RSA or Ed25519).\n"
    "An encrypted key is decrypted with $COSIGN_PASSWORD.\n"
    "Example: --key signing.pem"
)


def _arch_help(goarch: str, suffix: str) -> str:
    filename = "x86" if goarch == "amd64" else goarch
    order = suffix.rsplit("-", 1)[1]
    return (
        f"Optional: bytecode file to use for building the image assuming {goarch}"
        f" architecture.\nExample: --bc-{suffix} ./examples/go-xdp-counter/"
        f"bpf_{filename}_bpf{order}.o"
    )


def image_argument(fn: F) -> F:
    return click.argument(
        "image", cls=HelpArgument, help="Required: Container Image URL (a tag or @sha256 digest)."
    )(fn)


def _bytecode_options(fn: F) -> F:
    """``-b``, ``-c`` and ``--bc-<arch>``, shared by build and generate-build-args."""
    for arch in reversed(ARCHES):
        fn = click.option(
            f"--{arch.option}",
            help=(_arch_help(arch.goarch, arch.suffix)),
            metavar=f"<{arch.build_arg}>",
        )(fn)
    fn = click.option(
        "-c", "--cilium-ebpf-project", metavar="<CILIUM_EBPF_PROJECT>", help=(CILIUM_HELP)
    )(fn)
    return click.option("-b", "--bytecode", metavar="<BYTECODE>", help=(BYTECODE_HELP))(fn)


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


def make_image_group(
    get_store: Callable[[], ImageStore],
    infer_type: InferType,
    get_settings: Callable[[], ImageSettings] | None = None,
) -> click.Group:
    """The ``image`` command group over the store ``get_store`` returns.

    :param get_settings: the registry and signing settings, for the commands that
        store nothing (``inspect``, ``verify``: no root needed); the store's by default.
    """
    settings = get_settings or (lambda: get_store().settings)
    group = BpfmanGroup("image", help="eBPF Bytecode Image related commands.")

    @group.command("pull", help="Pull an eBPF bytecode image from a remote registry.")
    @click.option("-i", "--image-url", required=True, metavar="<IMAGE_URL>", help=(IMAGE_URL_HELP))
    @click.option("-r", "--registry-auth", metavar="<REGISTRY_AUTH>", help=(REGISTRY_AUTH_HELP))
    @click.option(
        "-p",
        "--pull-policy",
        type=click.Choice([p.value for p in PullPolicy]),
        default=PullPolicy.IF_NOT_PRESENT.value,
        metavar="<PULL_POLICY>",
        show_default=True,
        help=(PULL_POLICY_HELP),
    )
    def pull(image_url: str, registry_auth: str | None, pull_policy: str) -> None:
        with _progress() as progress:
            get_store().pull(
                image_url, PullPolicy.parse(pull_policy), registry_auth, progress=progress
            )
        click.echo("Successfully downloaded bytecode")

    @group.command("build", help=(BUILD_HELP))
    @click.option("-t", "--tag", required=True, metavar="<TAG>", help=(TAG_HELP))
    @click.option("-f", "--container-file", metavar="<CONTAINER_FILE>", help=(CONTAINER_FILE_HELP))
    @click.option(
        "-r",
        "--runtime",
        type=click.Choice(RUNTIMES),
        default="docker",
        metavar="<RUNTIME>",
        help=(RUNTIME_HELP),
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

    @group.command("generate-build-args", help=(GENERATE_HELP))
    @_bytecode_options
    def generate(**flags: Any) -> None:
        for line in generate_build_args(_sources(flags), infer_type):
            click.echo(line)

    @group.command("sign", help=(SIGN_HELP))
    @click.option("--key", required=True, metavar="<KEY>", help=(KEY_HELP))
    @click.option("-i", "--image-url", required=True, metavar="<IMAGE_URL>", help=(IMAGE_URL_HELP))
    @click.option("-r", "--registry-auth", metavar="<REGISTRY_AUTH>", help=(REGISTRY_AUTH_HELP))
    def sign(key: str, image_url: str, registry_auth: str | None) -> None:
        from bpfman.images.signing import load_private_key, sign_image
        from bpfman.images.transport import RegistryClient

        private_key = load_private_key(key)
        ref = parse_reference(image_url)
        auth = registry_auth or login_auth(ref.registry)
        client = RegistryClient(ref, get_store().settings, auth)
        digest = sign_image(client, ref, private_key)
        click.echo(f"Pushed signature for {ref.name}@{digest}")

    @group.command("inspect", help=INSPECT_HELP)
    @image_argument
    @click.option("-r", "--registry-auth", help=REGISTRY_AUTH_HELP)
    @output_option
    def inspect(image: str, registry_auth: str | None, output: str) -> None:
        from bpfman.images.inspect import inspect_image

        found = inspect_image(image, settings(), registry_auth)
        if output == "json":
            click.echo(dumps(found.to_json()))
        else:
            click.echo(inspection_text(found))

    @group.command("verify", help=VERIFY_HELP)
    @image_argument
    @click.option("-r", "--registry-auth", help=REGISTRY_AUTH_HELP)
    @click.option("--public-key", help=PUBLIC_KEY_HELP)
    @click.option("--allow-unsigned", is_flag=True, help=ALLOW_UNSIGNED_HELP)
    def verify(
        image: str, registry_auth: str | None, public_key: str | None, allow_unsigned: bool
    ) -> None:
        given = settings()
        wanted = replace(
            given, public_key=public_key or given.public_key, allow_unsigned=allow_unsigned
        )
        from bpfman.images.inspect import check_signature
        from bpfman.images.verdict import SignatureState

        digest, state = check_signature(image, wanted, registry_auth)
        if state is SignatureState.VERIFIED:
            click.echo(f"Image {image} ({digest}): signature verified")
        else:
            click.echo(f"Image {image} ({digest}): not signed, accepted (--allow-unsigned)")

    return group


def inspection_text(found: Inspection) -> str:
    """``image inspect``'s detail block."""
    rows: list[tuple[str, Value]] = [
        ("Image", found.reference),
        ("Digest", found.digest),
        ("Media Type", found.media_type),
    ]
    if found.platforms:
        rows += [
            ("Platforms", ", ".join(found.platforms)),
            ("Host Manifest", found.manifest_digest),
        ]
    rows += [
        ("Programs", [f"{name}={kind}" for name, kind in found.programs.items()] or "None"),
        ("Maps", [f"{name}={kind}" for name, kind in found.maps.items()] or "None"),
        ("Labels", [f"{k}={v}" for k, v in sorted(found.labels.items())] or "None"),
        ("Layers", [f"{lyr['digest']} ({lyr['media_type']}, {lyr['size']} bytes)"
                    for lyr in found.layers] or "None"),
    ]  # fmt: skip
    return block("Bytecode Image", 15, rows)


def _app() -> App:
    found = click.get_current_context().find_object(App)
    assert found is not None
    return found


image = make_image_group(
    lambda: _app().bpfman.images,
    lambda section: _app().bpfman.plugins.image_label(section),
    lambda: ImageSettings.from_mapping(_app().bpfman.config.tables),
)
