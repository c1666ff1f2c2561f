"""OCI bytecode images: pull into a verified local store, build, push, sign.

The image format is the reference bpfman's: an image config whose
``io.ebpf.*`` labels name the programs and maps, and a first layer (tar,
usually gzipped) holding the ``.o``. See the submodules for each step.
"""

from bpfman.core.images.build import RUNTIMES, build_native, build_with_runtime
from bpfman.core.images.buildargs import ARCHES, BytecodeSources, generate_build_args
from bpfman.core.images.reference import ImageRef, parse_reference
from bpfman.core.images.settings import ImageSettings, PullPolicy
from bpfman.core.images.store import Bytecode, ImageStore

__all__ = [
    "ARCHES",
    "RUNTIMES",
    "Bytecode",
    "BytecodeSources",
    "ImageRef",
    "ImageSettings",
    "ImageStore",
    "PullPolicy",
    "build_native",
    "build_with_runtime",
    "generate_build_args",
    "parse_reference",
]
