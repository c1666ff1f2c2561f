"""bpfman run: BPF_PROG_TEST_RUN on xdp and tc programs with crafted frames.

The toolbox programs swap the Ethernet addresses (so data_out differs from
data_in in a known way), give frames of EtherType 0x88b5 XDP_TX / TC_ACT_SHOT
and other frames XDP_PASS / TC_ACT_OK, and the tc one adds 1 to skb->mark
(so ctx_out differs from ctx_in).
"""

from __future__ import annotations

import struct
import subprocess
from pathlib import Path

import pytest

from tests.helpers.root import BPFMAN, REPO, Root
from tests.helpers.toolbox import DST_MAC, FRAME, OTHER_FRAME, SRC_MAC, load_program

XDP_PASS, XDP_TX = 2, 3
TC_ACT_OK, TC_ACT_SHOT = 0, 2
SKB_MARK_OFFSET = 8  # struct __sk_buff: len, pkt_type, mark


def swapped(frame: bytes) -> bytes:
    return frame[6:12] + frame[0:6] + frame[12:]


@pytest.fixture
def xdp(root: Root, objects: Path) -> int:
    return load_program(root, objects / "toolbox.bpf.o", "xdp:xdp_toolbox")


@pytest.fixture
def tc(root: Root, objects: Path) -> int:
    return load_program(root, objects / "toolbox.bpf.o", "tc:tc_toolbox")


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("frame", "verdict"), [(FRAME, XDP_TX), (OTHER_FRAME, XDP_PASS)], ids=["ours", "ipv4"]
)
def test_xdp_verdict_and_rewritten_frame(
    root: Root, xdp: int, tmp_path: Path, frame: bytes, verdict: int
) -> None:
    data_in, data_out = write(tmp_path, "in", frame), tmp_path / "out"
    text = root.run("run", xdp, "--data-in", data_in, "--data-out", data_out).stdout
    assert text.startswith(f"Return value: {verdict}, duration (average): ")
    assert text.rstrip().endswith(" ns")
    assert data_out.read_bytes() == swapped(frame)
    assert swapped(frame)[:12] == SRC_MAC + DST_MAC


@pytest.mark.parametrize(
    ("frame", "verdict"), [(FRAME, TC_ACT_SHOT), (OTHER_FRAME, TC_ACT_OK)], ids=["ours", "ipv4"]
)
def test_tc_verdict_frame_and_context(
    root: Root, tc: int, tmp_path: Path, frame: bytes, verdict: int
) -> None:
    ctx_in = write(tmp_path, "ctx", bytes(SKB_MARK_OFFSET) + struct.pack("=I", 41))
    result = root.json(
        "run",
        tc,
        "--data-in",
        write(tmp_path, "in", frame),
        "--data-out",
        tmp_path / "out",
        "--ctx-in",
        ctx_in,
        "--ctx-out",
        tmp_path / "ctx_out",
    )
    assert isinstance(result, dict)
    assert result["retval"] == verdict and result["repeat"] == 1
    assert result["data_size_out"] == len(frame)
    assert (tmp_path / "out").read_bytes() == swapped(frame)
    ctx_out = (tmp_path / "ctx_out").read_bytes()
    assert result["ctx_size_out"] == len(ctx_out) > SKB_MARK_OFFSET + 4
    assert struct.unpack_from("=I", ctx_out, SKB_MARK_OFFSET)[0] == 42
    assert isinstance(result["duration_ns"], int)


def test_stdin_and_stdout(root: Root, xdp: int) -> None:
    proc = subprocess.run(
        [*BPFMAN, "run", str(xdp), "--data-in", "-", "--data-out", "-"],
        input=FRAME,
        env=root.env,
        cwd=REPO,
        capture_output=True,
        check=True,
    )
    lines = proc.stdout.decode().splitlines()
    assert lines[0] == f"Data out ({len(FRAME)} bytes):"
    dumped = bytes.fromhex("".join(line[6:].replace(" ", "") for line in lines[1:-1]))
    assert dumped == swapped(FRAME)
    assert lines[-1].startswith(f"Return value: {XDP_TX}, ")
    as_json = subprocess.run(
        [*BPFMAN, "run", str(xdp), "--data-in", "-", "--data-out", "-", "-o", "json"],
        input=FRAME,
        env=root.env,
        cwd=REPO,
        capture_output=True,
        check=True,
    )
    assert b'"data_out": "' + swapped(FRAME).hex().encode() + b'"' in as_json.stdout


def test_a_type_without_test_run_is_named(root: Root, objects: Path, tmp_path: Path) -> None:
    tp = load_program(root, objects / "tracepoint_counter.bpf.o", "tracepoint:tracepoint_counter")
    line = root.fail("run", tp, "--data-in", write(tmp_path, "in", FRAME))
    assert line == (
        f"Error: program {tp} is a tracepoint program, a type the kernel cannot test-run "
        "(BPF_PROG_TEST_RUN)"
    )


def test_bad_input_is_one_line(root: Root, xdp: int, tmp_path: Path) -> None:
    frame = write(tmp_path, "in", FRAME)
    cases: list[tuple[list[str | Path], str, int]] = [
        (["--data-in", tmp_path / "missing"], "data input file", 3),
        (["--data-in", write(tmp_path, "short", b"\x01\x02")], "Invalid argument (EINVAL)", 9),
        (["--data-in", frame, "--data-size-out", "4"], "does not fit", 2),
        (["--data-in", "-", "--ctx-in", "-"], "only one of --data-in and --ctx-in", 2),
        (["--data-in", frame, "--repeat", "0"], "--repeat", 2),
        (["--data-in", frame, "--data-out", tmp_path / "no" / "dir"], "cannot write", 2),
        ([], "Missing option '--data-in'", 2),
    ]
    for args, needle, code in cases:
        line = root.fail("run", xdp, *args)
        assert needle in line, line
        assert root.run("run", xdp, *args, check=False).returncode == code, args
    assert "no program with id" in root.fail("run", "4294967295", "--data-in", frame)
