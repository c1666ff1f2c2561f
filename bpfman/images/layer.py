"""The bytecode layer: a tar (usually gzipped) holding one ``.o``.

Unpacked in memory only. Entries that could escape a directory (absolute
paths, ``..``), links and device nodes are refused outright, even though we
never write them to disk, because an image carrying them is not one any
bytecode builder makes. Decompressed output is bounded like the download.
"""

from __future__ import annotations

import gzip
import io
import tarfile
import zlib

from bpfman.errors import ImageError

_GZIP_MAGIC = b"\x1f\x8b"


def extract_object(blob: bytes, image: str, limit: int, preferred: str | None = None) -> bytes:
    """The bytecode file from a layer; ``preferred`` names it when there are several."""
    tar_bytes = _gunzip(blob, image, limit) if blob[:2] == _GZIP_MAGIC else blob
    files: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(tar_bytes), mode="r:") as tar:
            for member in tar:
                name = _check_member(member, image)
                if member.isdir():
                    continue
                handle = tar.extractfile(member)
                if handle is None:
                    raise ImageError(f"image {image}: layer entry {member.name!r} is unreadable")
                files[name] = handle.read()
    except tarfile.TarError as e:
        raise ImageError(f"image {image}: bytecode layer is not a valid tar: {e}") from None
    return _choose(files, image, preferred)


def _gunzip(blob: bytes, image: str, limit: int) -> bytes:
    """Decompress, stopping as soon as the output would exceed ``limit``."""
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(blob, limit + 1)
    except zlib.error as e:
        raise ImageError(f"image {image}: bytecode layer is not valid gzip: {e}") from None
    if len(out) > limit or inflater.unconsumed_tail:
        raise ImageError(f"image {image}: unpacked bytecode layer is over the {limit}-byte limit")
    return out


def _check_member(member: tarfile.TarInfo, image: str) -> str:
    """The entry's normalised name; unsafe entries are an error."""
    name = member.name
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if name.startswith("/") or ".." in parts:
        raise ImageError(f"image {image}: layer entry {name!r} escapes the layer (path traversal)")
    if member.issym() or member.islnk():
        raise ImageError(f"image {image}: layer entry {name!r} is a link; refusing it")
    if not (member.isfile() or member.isdir()):
        raise ImageError(f"image {image}: layer entry {name!r} is not a regular file")
    return "/".join(parts)


def _choose(files: dict[str, bytes], image: str, preferred: str | None) -> bytes:
    if preferred:
        for name, data in files.items():
            if name.rsplit("/", 1)[-1] == preferred.rsplit("/", 1)[-1]:
                return data
    objects = {n: d for n, d in files.items() if n.endswith(".o")} or files
    if len(objects) != 1:
        found = ", ".join(sorted(files)) or "nothing"
        raise ImageError(f"image {image}: expected one bytecode .o in the layer, found {found}")
    return next(iter(objects.values()))


def build_layer(filename: str, data: bytes) -> tuple[bytes, bytes]:
    """A reproducible tar+gzip layer holding ``filename`` at its root, and the tar itself.

    The uncompressed tar is returned for the config's ``diff_ids``.
    """
    info = tarfile.TarInfo(filename)
    info.size, info.mode, info.mtime = len(data), 0o644, 0
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        tar.addfile(info, io.BytesIO(data))
    tar_bytes = raw.getvalue()
    return gzip.compress(tar_bytes, mtime=0), tar_bytes
