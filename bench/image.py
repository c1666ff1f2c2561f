"""Image load cost: a cached ``load image`` as a ratio to ``load file`` of the same object.

Also times a cold ``image pull`` (empty store) from a loopback registry. Every
figure is the median wall time of the CLI, one process per command, as users
run it; load commands alternate so machine load affects both alike. Target:
cached ``load image`` within 1.3x of ``load file``. Needs root.

    python -m bench.image [--runs N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bpfman.images import ImageSettings
from bpfman.images.build import build_native
from bpfman.images.buildargs import BytecodeSources
from tests.helpers.registry import TRACEPOINT_SOURCE, compile_bpf, infer_type, running_registry

BPFMAN = str(Path(sys.executable).with_name("bpfman"))
PROGRAM = "tracepoint:tracepoint_kill_recorder"


def wall(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=True)
    return time.perf_counter() - start


def unload_all(root: Path) -> None:
    from bpfman.core.manager import Bpfman

    mgr = Bpfman(root)
    for row in mgr.list_programs():
        mgr.unload(row.id)
    mgr.close()


def make_root(base: Path, name: str, host: str) -> Path:
    root = base / name
    root.mkdir()
    (root / "bpfman.toml").write_text(f'[images]\ninsecure_registries = ["{host}"]\n')
    return root


def teardown(root: Path) -> None:
    unload_all(root)
    subprocess.run(["umount", str(root / "fs")], check=False, stderr=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="bpfman-bench-image-"))
    roots: list[Path] = []
    try:
        obj = compile_bpf(TRACEPOINT_SOURCE, base / "tp.bpf.o")
        with running_registry(base / "registry") as reg:
            url = f"{reg.host}/bench/tracepoint:v1"
            settings = ImageSettings(insecure_registries=(reg.host,))
            build_native(BytecodeSources(bytecode=str(obj)), url, settings, infer_type, reg.auth)
            root = make_root(base, "root", reg.host)
            roots.append(root)
            env = {**os.environ, "BPFMAN_ROOT": str(root)}
            load_file = [BPFMAN, "load", "file", "-p", str(obj), "--programs", PROGRAM]
            load_image = [BPFMAN, "load", "image", "-i", url, "--programs", PROGRAM]
            pull = [BPFMAN, "image", "pull", "-i", url, "-r", reg.auth]
            wall(pull, env)  # fill the cache
            files, images, colds = [], [], []
            for i in range(args.runs):
                files.append(wall(load_file, env))
                unload_all(root)
                images.append(wall(load_image, env))
                unload_all(root)
                cold_root = make_root(base, f"cold{i}", reg.host)
                cold_env = {**os.environ, "BPFMAN_ROOT": str(cold_root)}
                colds.append(wall([*pull, "-p", "Always"], cold_env))
                shutil.rmtree(cold_root, ignore_errors=True)
    finally:
        for root in roots:
            teardown(root)
        shutil.rmtree(base, ignore_errors=True)
    file_s = statistics.median(files)
    print(f"{'command':<28}{'median':>10}{'vs load file':>14}")
    for name, times in (
        ("load file", files),
        ("load image (cached)", images),
        ("image pull (cold, loopback)", colds),
    ):
        median = statistics.median(times)
        print(f"{name:<28}{median * 1000:>8.1f}ms{median / file_s:>13.2f}x")


if __name__ == "__main__":
    main()
