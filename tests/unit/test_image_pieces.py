"""Image pieces that need no registry: settings, credentials, layers, labels, platforms."""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path

import pytest

from bpfman.errors import ImageError, InvalidInputError, NotFoundError
from bpfman.images import ImageSettings, PullPolicy
from bpfman.images.buildargs import cilium_goarch
from bpfman.images.credentials import decode_auth, login_auth
from bpfman.images.elf import check_bytecode
from bpfman.images.labels import read_labels
from bpfman.images.layer import build_layer, extract_object
from bpfman.images.oci import pick_platform
from bpfman.images.signing import load_private_key


def test_settings_from_mapping() -> None:
    s = ImageSettings.from_mapping(
        {
            "images": {"insecure_registries": ["127.0.0.1:5000"], "max_layer_bytes": 1024},
            "signing": {"verify_enabled": True, "allow_unsigned": False, "public_key": "/k.pub"},
        }
    )
    assert s == ImageSettings(("127.0.0.1:5000",), True, False, "/k.pub", 1024)
    assert s.is_insecure("127.0.0.1:5000") and not s.is_insecure("127.0.0.1:5001")
    assert ImageSettings.from_mapping({}) == ImageSettings()
    with pytest.raises(InvalidInputError):
        ImageSettings.from_mapping({"signing": {"verify_enabled": "yes"}})
    with pytest.raises(InvalidInputError):
        ImageSettings.from_mapping({"images": {"max_layer_bytes": 0}})


def test_pull_policy_parse() -> None:
    assert PullPolicy.parse("Always") is PullPolicy.ALWAYS
    assert PullPolicy.IF_NOT_PRESENT.value == "IfNotPresent"
    with pytest.raises(InvalidInputError, match="Always, IfNotPresent, Never"):
        PullPolicy.parse("always")


def test_decode_auth() -> None:
    assert decode_auth("dXNlcjpwYTpzcw==") == ("user", "pa:ss")
    for bad in ("not base64!", "bm9jb2xvbg=="):  # the second is "nocolon"
        with pytest.raises(InvalidInputError, match="base64"):
            decode_auth(bad)


def test_login_auth_reads_docker_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REGISTRY_AUTH_FILE", raising=False)
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    (tmp_path / "config.json").write_text(
        json.dumps({"auths": {"127.0.0.1:5000": {"auth": "eDp5"}}})
    )
    assert login_auth("127.0.0.1:5000") == "eDp5"
    assert login_auth("127.0.0.1:5001") is None


def _tar(entries: list[tarfile.TarInfo], payload: bytes = b"x") -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for info in entries:
            if info.isfile():
                info.size = len(payload)
                tar.addfile(info, io.BytesIO(payload))
            else:
                tar.addfile(info)
    return raw.getvalue()


def _entry(name: str, kind: bytes = tarfile.REGTYPE, target: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info


def test_layer_round_trip() -> None:
    data = b"\x7fELF any bytes: the layer does not look inside"
    layer, tar = build_layer("xdp.bpf.o", data)
    assert extract_object(layer, "img", 1 << 20) == data
    assert extract_object(tar, "img", 1 << 20) == data  # plain tar works too
    assert build_layer("xdp.bpf.o", data)[0] == layer  # reproducible


def test_layer_picks_named_file_among_several() -> None:
    tar = _tar([_entry("./"), _entry("./a.o"), _entry("b.o")])
    assert extract_object(tar, "img", 1 << 20, preferred="b.o") == b"x"
    with pytest.raises(ImageError, match=r"expected one bytecode \.o"):
        extract_object(tar, "img", 1 << 20)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (_entry("../../etc/evil.o"), "path traversal"),
        (_entry("/abs.o"), "path traversal"),
        (_entry("a/../../b.o"), "path traversal"),
        (_entry("prog.o", tarfile.SYMTYPE, "/etc/passwd"), "is a link"),
        (_entry("prog.o", tarfile.LNKTYPE, "other.o"), "is a link"),
        (_entry("dev", tarfile.CHRTYPE), "not a regular file"),
    ],
)
def test_layer_refuses_unsafe_entries(entry: tarfile.TarInfo, message: str) -> None:
    layer = gzip.compress(_tar([_entry("ok.o"), entry]))
    with pytest.raises(ImageError, match=message):
        extract_object(layer, "img", 1 << 20)


def test_layer_refuses_gzip_bomb() -> None:
    bomb = gzip.compress(b"\0" * (4 << 20))  # a few KiB that unpack to 4 MiB
    assert len(bomb) < 16 << 10
    with pytest.raises(ImageError, match="over the 1048576-byte limit"):
        extract_object(bomb, "img", 1 << 20)


def test_layer_refuses_garbage() -> None:
    with pytest.raises(ImageError, match=r"not valid gzip|not a valid tar"):
        extract_object(b"\x1f\x8bnot gzip at all", "img", 1 << 20)


def test_labels_current_and_v1() -> None:
    current = {"config": {"Labels": {"io.ebpf.programs": '{"pass":"xdp"}', "io.ebpf.maps": "{}"}}}
    labels = read_labels(current, "img")
    assert (labels.programs, labels.maps) == ({"pass": "xdp"}, {})
    v1 = {
        "config": {
            "Labels": {
                "io.ebpf.program_name": "xdp_pass",
                "io.ebpf.bpf_function_name": "pass",
                "io.ebpf.program_type": "xdp",
                "io.ebpf.filename": "bpf_x86_bpfel.o",
            }
        }
    }
    labels = read_labels(v1, "img")
    assert (labels.programs, labels.maps, labels.filename) == (
        {"pass": "xdp"},
        {},
        "bpf_x86_bpfel.o",
    )
    with pytest.raises(ImageError, match="not a bytecode image"):
        read_labels({"config": {"Labels": {"other": "x"}}}, "img")
    with pytest.raises(ImageError, match="not a JSON object"):
        read_labels({"config": {"Labels": {"io.ebpf.programs": "[1]"}}}, "img")


def test_pick_platform() -> None:
    index = {
        "manifests": [
            {"digest": "sha256:" + "1" * 64, "platform": {"os": "linux", "architecture": "arm64"}},
            {"digest": "sha256:" + "2" * 64, "platform": {"os": "linux", "architecture": "amd64"}},
            {
                "digest": "sha256:" + "3" * 64,
                "platform": {"os": "unknown", "architecture": "unknown"},
            },
        ]
    }
    assert pick_platform(index, "img", "amd64")["digest"] == "sha256:" + "2" * 64
    with pytest.raises(
        ImageError, match=r"no linux/s390x bytecode \(it has: linux/arm64, linux/amd64\)"
    ):
        pick_platform(index, "img", "s390x")


@pytest.mark.parametrize(
    ("name", "goarch"),
    [
        ("bpf_x86_bpfel.o", "amd64"),
        ("bpf_arm64_bpfel.o", "arm64"),
        ("bpf_arm_bpfel.o", "arm"),
        ("bpf_powerpc_bpfel.o", "ppc64le"),
        ("bpf_powerpc_bpfeb.o", "ppc64"),
        ("bpf_s390_bpfeb.o", "s390x"),
        ("bpf_mips_bpfeb.o", "mips"),
        ("bpf_riscv_bpfel.o", "riscv64"),
        ("bpf_loongarch_bpfel.o", "loong64"),
        ("bpf_x86_bpfel.go", None),
        ("README.md", None),
    ],
)
def test_cilium_names(name: str, goarch: str | None) -> None:
    assert cilium_goarch(name) == goarch


def test_elf_check_refuses_what_is_not_bpf() -> None:
    with pytest.raises(ImageError, match="not an ELF object"):
        check_bytecode(b"MZ" + b"\0" * 64, "img")
    with pytest.raises(ImageError, match="not BPF bytecode"):
        check_bytecode(Path("/bin/true").read_bytes(), "img")


def test_private_key_errors(tmp_path: Path) -> None:
    cosign_key = tmp_path / "cosign.key"
    cosign_key.write_text("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nabc\n")
    with pytest.raises(InvalidInputError, match="cosign-encrypted key"):
        load_private_key(str(cosign_key))
    with pytest.raises(NotFoundError):
        load_private_key(str(tmp_path / "missing.pem"))
    junk = tmp_path / "junk.pem"
    junk.write_text("junk")
    with pytest.raises(InvalidInputError, match="not a usable PEM private key"):
        load_private_key(str(junk))
