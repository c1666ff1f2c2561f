"""Per-packet cost of dispatcher chains: bpfman's and libxdp's, as ns/packet.

Chains of 1, 2, 5 and 10 pass programs are attached by bpfman to a veth in a
throwaway namespace; the dispatcher is then run with ``BPF_PROG_TEST_RUN``
(repeat) and compared with the single program run directly. The same chains
are built by ``xdp-loader`` (libxdp's dispatcher) for comparison. freplace
is needed, so on a kernel that refuses it the benchmark re-runs itself in
the VM lane's guest and prints what the guest measured.

    python -m bench.dispatcher [--repeat N]
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
CHAINS = (1, 2, 5, 10)
PACKET = bytes(64)  # not IPv4/UDP: xdp_chain passes it straight through
NETNS = "bpfman-bench"
IFACE = "bench0"


def ns_per_packet(prog_fd: int, repeat: int) -> float:
    from bpfman import kernel

    samples = [kernel.prog_test_run(prog_fd, PACKET, repeat=repeat)[1] for _ in range(5)]
    return float(sorted(samples)[2])


@contextmanager
def veth() -> Iterator[str]:
    """A veth end in a throwaway namespace; yields the namespace path."""
    subprocess.run(["ip", "netns", "add", NETNS], check=True)
    try:
        subprocess.run(
            ["ip", "-n", NETNS, "link", "add", IFACE, "type", "veth", "peer", "name", "bench1"],
            check=True,
        )
        subprocess.run(["ip", "-n", NETNS, "link", "set", IFACE, "up"], check=True)
        yield f"/var/run/netns/{NETNS}"
    finally:
        subprocess.run(["ip", "netns", "delete", NETNS], check=False)


def direct(obj: Path, repeat: int) -> float:
    from bpfman import kernel

    with kernel.BpfObject.open_file(obj) as o:
        o.load()
        return ns_per_packet(o.program_fd("xdp_chain"), repeat)


def bpfman_chain(obj: Path, count: int, netns: str, repeat: int) -> float:
    from bpfman import kernel
    from bpfman.core.manager import Bpfman

    root = Path(tempfile.mkdtemp(prefix="bpfman-bench-"))
    mgr = Bpfman(root)
    try:
        for i in range(count):
            prog = mgr.load_file(obj, ["xdp:xdp_chain"])[0].id
            mgr.attach(prog, {"iface": IFACE, "priority": i + 1, "netns": netns})
        (pin,) = (root / "fs" / "xdp").glob("dispatch-*/dispatcher")
        with kernel.obj_get(str(pin)) as fd:
            return ns_per_packet(fd.fd, repeat)
    finally:
        for row in mgr.list_programs():
            mgr.unload(row.id)
        mgr.close()
        subprocess.run(["umount", str(root / "fs")], check=False)
        shutil.rmtree(root, ignore_errors=True)


def libxdp_chain(obj: Path, count: int, repeat: int) -> tuple[float, str]:
    """libxdp's chain of ``count`` copies (one ``xdp-loader load`` each).

    :returns: ns/packet and the name of what libxdp attached.
    """
    from bpfman import kernel

    exec_ns = ["ip", "netns", "exec", NETNS]
    with tempfile.TemporaryDirectory(prefix="bpfman-bench-") as tmp:
        # `ip netns exec` mounts a fresh /sys, hiding /sys/fs/bpf: without a
        # bpffs libxdp silently attaches a lone program instead of a dispatcher.
        bpffs = Path(tmp) / "bpffs"
        bpffs.mkdir()
        subprocess.run(["mount", "-t", "bpf", "bpf", str(bpffs)], check=True)
        env = {**os.environ, "LIBXDP_BPFFS": str(bpffs)}
        try:
            for i in range(count):
                copy = Path(tmp) / f"chain{i}.o"
                shutil.copy(obj, copy)
                loader = [
                    *exec_ns,
                    "xdp-loader",
                    "load",
                    "-m",
                    "skb",
                    "-s",
                    "xdp",
                    IFACE,
                    str(copy),
                ]
                done = subprocess.run(loader, env=env, capture_output=True, text=True, check=False)
                if done.returncode != 0:
                    raise RuntimeError(f"xdp-loader load failed: {done.stderr.strip()}")
            shown = [*exec_ns, "ip", "-d", "link", "show", IFACE]
            out = subprocess.run(shown, check=True, capture_output=True, text=True).stdout
            prog_id = int(out.split("prog/xdp id ")[1].split()[0])
            with kernel.prog_fd_by_id(prog_id) as fd:
                return ns_per_packet(fd.fd, repeat), kernel.prog_info(fd.fd).name
        finally:
            unload = [*exec_ns, "xdp-loader", "unload", "--all", IFACE]
            subprocess.run(unload, env=env, capture_output=True, check=False)
            subprocess.run(["umount", str(bpffs)], check=False)


def measure(repeat: int) -> None:
    from tests.helpers.build import bpf_object

    obj = bpf_object("xdp_chain")
    base = direct(obj, repeat)
    print(f"single xdp_chain run directly: {base:.1f} ns/packet")
    print(f"{'programs':>8}  {'bpfman ns':>9}  {'ratio':>6}  {'libxdp ns':>9}  {'ratio':>6}")
    with veth() as netns:
        for count in CHAINS:
            ours = bpfman_chain(obj, count, netns, repeat)
            theirs, name = libxdp_chain(obj, count, repeat)
            note = "" if name == "xdp_dispatcher" else f"  (libxdp attached {name} alone)"
            print(
                f"{count:>8}  {ours:>9.1f}  {ours / base:>5.2f}x"
                f"  {theirs:>9.1f}  {theirs / base:>5.2f}x{note}"
            )


def in_guest(argv: list[str]) -> int:
    """Re-run this benchmark inside the VM lane's guest kernel."""
    from tests.vm.runner import VNG_OPTIONS, guest_kernel

    vng = Path(sys.executable).with_name("vng")
    inner = shlex.join([sys.executable, "-m", "bench.dispatcher", *argv])
    script = f"cd {shlex.quote(str(REPO))} && BPFMAN_IN_VM=1 PYTHONDONTWRITEBYTECODE=1 {inner}"
    env = {**os.environ, "PATH": f"{vng.parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    cmd = [
        str(vng),
        "-r",
        str(guest_kernel("6.1").image),
        *VNG_OPTIONS,
        "--exec",
        f"bash -c {shlex.quote(script)}",
    ]
    return subprocess.run(cmd, cwd=REPO, env=env, stdin=subprocess.DEVNULL, check=False).returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=100_000)
    args = parser.parse_args()
    from bpfman.dispatcher.loader import freplace_support

    support = freplace_support()
    if not support.supported and not os.environ.get("BPFMAN_IN_VM"):
        print(f"{support.refusal}: measuring in the VM lane's guest kernel", flush=True)
        return in_guest(["--repeat", str(args.repeat)])
    measure(args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
