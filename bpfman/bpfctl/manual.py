"""bpfctl's man pages beyond ``--help``: environment, files, examples, see also.

Rendered with bpfman's by ``bpfman man`` (:mod:`bpfman.cli.docs`), which finds
them through the ``bpfman.manuals`` entry point.
"""

from __future__ import annotations

from bpfman.cli.docs import Example, Manual

BPFCTL_ENVIRONMENT = (
    ("BPFMAN_SOCKET_PATH", "The bpfman service's socket bpfctl sends its requests to "
     "when something answers there [default: /run/bpfman-sock/bpfman.sock]."),
    ("BPFMAN_ROOT", "Where nothing answers on the socket, bpfctl runs bpfman's core "
     "itself, as root, on this root [default: /run/bpfman]."),
)  # fmt: skip
BPFCTL_FILES = (
    ("/run/bpfman-sock/bpfman.sock", "The bpfman service's socket: members of its "
     "group, bpfman, need no sudo."),
)  # fmt: skip
BPFCTL_EXAMPLES = (
    Example("Load and attach in one step, from a file or an image.", (
        "bpfctl load-from-file --path /srv/bpf/xdp_pass_kern.o --name pass \\\n"
        "    xdp --iface eth0 --priority 100",
        "bpfctl load-from-image \\\n"
        "    --image-url quay.io/bpfd-bytecode/kretprobe:latest \\\n"
        "    kprobe -f try_to_wake_up -r",
    )),
    Example("Inspect and remove.", (
        "bpfctl list --program-type tc",
        "bpfctl get 6371",
        "bpfctl unload 6371",
        "bpfctl pull-bytecode \\\n"
        "    --image-url quay.io/bpfd-bytecode/xdp_pass:latest",
    )),
)  # fmt: skip


def manual() -> Manual:
    """bpfctl's pages (its ``bpfman.manuals`` entry point)."""
    from .main import cli

    return Manual("bpfctl", cli, BPFCTL_ENVIRONMENT, BPFCTL_FILES, BPFCTL_EXAMPLES, ("bpfman(1)",))
