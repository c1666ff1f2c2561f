"""OCI bytecode images: pull into a verified local store, build, push, sign.

The image format is the reference bpfman's: an image config whose
``io.ebpf.*`` labels name the programs and maps, and a first layer (tar,
usually gzipped) holding the ``.o``. See the submodules for each step.
Building and pushing (:mod:`.build`) and signing (:mod:`.signing`) are not
imported here: they pull in the registry and crypto stacks, which loading a
cached image does not need.
"""

from bpfman.images.buildargs import ARCHES, BytecodeSources, generate_build_args
from bpfman.images.reference import ImageRef, parse_reference
from bpfman.images.settings import ImageSettings, PullPolicy
from bpfman.images.store import Bytecode, ImageStore

__all__ = [
    "ARCHES",
    "Bytecode",
    "BytecodeSources",
    "ImageRef",
    "ImageSettings",
    "ImageStore",
    "PullPolicy",
    "generate_build_args",
    "parse_reference",
]
