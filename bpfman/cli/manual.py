"""bpfman's man pages beyond ``--help``: environment, files, examples, see also.

Everything else on a page is rendered from the command tree (:mod:`.docs`).
The examples are the user guide's CLI tour; each one is filed under the command
it runs, so ``bpfman-attach-tcx(1)`` shows the tcx attach and ``bpfman(1)`` all.
"""

from __future__ import annotations

from .docs import Example, Manual

BPFMAN_ENVIRONMENT = (
    ("BPFMAN_ROOT", "The state and bpffs root, as --root (or --runtime-dir) sets it; "
     "the option wins [default: /run/bpfman]."),
    ("BPFMAN_LOCK_TIMEOUT", "Seconds a command that changes something waits for the "
     "state lock, as --lock-timeout sets it; the option wins [default: forever]."),
    ("BPFMAN_HOST_PROC", "Where the host's /proc is mounted when bpfman runs in a "
     "container with a pid namespace of its own (as under bpfman-operator): a uprobe's "
     "--container-pid is looked up there [default: /host/proc]."),
    ("REGISTRY_AUTH_FILE, XDG_RUNTIME_DIR, DOCKER_CONFIG", "Where image build --runtime "
     "native and image sign find the login a docker or podman login stored: "
     "$REGISTRY_AUTH_FILE, then podman's $XDG_RUNTIME_DIR/containers/auth.json "
     "(/run/containers/UID/auth.json without it), then $DOCKER_CONFIG/config.json "
     "[default: ~/.docker]."),
    ("COSIGN_PASSWORD", "The password of an encrypted private key given to image sign "
     "--key."),
    ("NODE_NAME, KUBE_NODE_NAME", "The node name the CSI node plugin of system service "
     "--csi-support reports [default: the host name]."),
    ("RUST_LOG", "The log level of system service, as bpfman-operator passes it: "
     "env_logger's directives (info, debug, bpfman=debug,info); -v wins over it, and it "
     "over the configuration's [logging] level."),
    ("_BPFMAN_COMPLETE", "Set by the completion scripts (bpfman completions) to ask "
     "bpfman for the candidates of a Tab; bpfman then runs no command. Never set it "
     "otherwise."),
)  # fmt: skip
BPFMAN_FILES = (
    ("/run/bpfman/", "The root (--root, BPFMAN_ROOT): a tmpfs, so programs and their "
     "records go together at reboot. Root's, mode 0700."),
    ("/run/bpfman/db/", "The state store (LMDB) and the writers' lock, writer.lock."),
    ("/run/bpfman/fs/", "A bpffs that bpfman mounts itself: the pins of every program "
     "(prog_ID), link (links/ID), map (maps/OWNER_ID/NAME) and dispatcher. Nothing of "
     "bpfman's is pinned under /sys/fs/bpf."),
    ("/run/bpfman/images/", "The bytecode images pulled (image pull, load image)."),
    ("/run/bpfman/plugins.cache", "The program type plugins found at the last "
     "discovery; rebuilt when the installed packages change."),
    ("/run/bpfman/csi/csi.sock", "The CSI node plugin's socket (system service "
     "--csi-support)."),
    ("/run/bpfman/relay/", "Private directories (0700) of system service's gRPC "
     "sockets, one per server; a killed service's are removed by the next."),
    ("/run/bpfman/bpfman.toml, /etc/bpfman/bpfman.toml", "The configuration: the first "
     "of the two that exists."),
    ("/etc/bpfman/programs.d/", "Declarations (TOML, as system save writes them) that "
     "bpfman-restore.service applies at boot with system apply."),
    ("/run/bpfman-sock/bpfman.sock", "The bpfman.v1 gRPC service's socket (system "
     "service, bpfman.socket), mode 0660, group bpfman."),
)  # fmt: skip
BPFMAN_EXAMPLES = (
    Example("Load programs from a local file: loaded and pinned, not yet attached. "
            "A second program shares the first one's maps.", (
        "bpfman load file --path ./tcx_chain.bpf.o \\\n"
        "    --programs tcx:tcx_chain --global prog_slot=00000000 \\\n"
        "    --application demo",
        "bpfman load file --path ./tcx_chain.bpf.o \\\n"
        "    --programs tcx:tcx_chain --map-owner-id 1231 --application demo",
    )),
    Example("Load programs packaged in an OCI image; all of one command share maps "
            "and globals.", (
        "bpfman load image \\\n"
        "    --image-url quay.io/bpfman-bytecode/go-app-counter:latest \\\n"
        "    --programs tracepoint:tracepoint_kill_recorder tcx:tcx_stats \\\n"
        "    --application go-app",
    )),
    Example("Attach: each program type has its own subcommand and options.", (
        "bpfman attach 1231 tcx --direction ingress --iface eth0 \\\n"
        "    --priority 100",
        "bpfman attach 1243 xdp --iface veth-b --priority 50 \\\n"
        "    --netns /var/run/netns/blue",
        "bpfman attach 1255 tracepoint --tracepoint syscalls/sys_enter_getppid",
        "bpfman attach 1260 uprobe --target libc --fn-name malloc",
    )),
    Example("Inspect what is loaded and attached; -o json is for scripts.", (
        "bpfman list programs",
        "bpfman list links --program-id 1231 --kind tcx",
        "bpfman list programs --all --program-type tc",
        "bpfman list programs -p tcx -l owner=acme,env!=dev --attached -q",
        "bpfman get program 1231",
        "bpfman get link 4128074335 -o json",
        "bpfman dispatcher list",
    )),
    Example("Remove: a detached program stays loaded; unload detaches what is still "
            "attached.", (
        "bpfman detach 4128074335",
        "bpfman unload 1231 1243",
    )),
    Example("The same commands, noun first.", (
        "bpfman program list --application demo",
        "bpfman link attach 1231 tcx --direction egress --iface eth0 \\\n"
        "    --priority 10",
    )),
    Example("Build and sign an image without a container engine, and check it before "
            "a pull.", (
        "bpfman image build --runtime native \\\n"
        "    -t registry.example/demo/app:v1 -b ./app_counter.bpf.o",
        "bpfman image sign --key sign.pem -i registry.example/demo/app:v1",
        "bpfman image inspect registry.example/demo/app:v1",
        "bpfman image verify --public-key /etc/bpfman/sign.pub \\\n"
        "    registry.example/demo/app:v1",
    )),
    Example("bpftool's toolbox, for any program in the kernel.", (
        "bpfman dump xlated 1807 --linum",
        "bpfman run 1807 --data-in frame.bin --data-out out.bin --repeat 100",
        "bpfman profile 1807 --duration 10 cycles instructions",
        "bpfman tracelog",
    )),
    Example("Keep what runs across reboots, as nftables users keep their rules.", (
        "bpfman system save -o /etc/bpfman/programs.d/host.toml",
        "bpfman system apply --check /etc/bpfman/programs.d",
        "bpfman system apply /etc/bpfman/programs.d",
    )),
    Example("Run statistics and Prometheus metrics.", (
        "bpfman system stats --enable --duration 60",
        "bpfman system metrics --listen 127.0.0.1:9464",
    )),
    # The pages of single commands only.
    Example("XDP and TC programs share a hook through a dispatcher, lower priorities "
            "first; the next program runs when this one returns a proceed-on action.", (
        "bpfman attach 1243 xdp --iface eth0 --priority 50 \\\n"
        "    --proceed-on pass --proceed-on dispatcher_return",
        "bpfman attach 1250 tc --direction ingress --iface eth0 \\\n"
        "    --priority 100 --proceed-on ok --proceed-on pipe",
        "bpfman dispatcher get xdp eth0",
        "bpfman dispatcher get tc-ingress eth0 -o json \\\n"
        "    --netns /var/run/netns/blue",
    ), tour=False),
    Example("A netkit pair's peer side, and a cgroup v2 directory.", (
        "bpfman attach 1276 netkit --iface nk0 --direction peer --priority 10",
        "bpfman attach 1275 cgroup --priority 100 \\\n"
        "    --cgroup-path /sys/fs/cgroup/my-service",
    ), tour=False),
    Example("Probes and tracepoints: a kernel function, a raw tracepoint, a perf event "
            "sampled 99 times a second, a function in a container's bash.", (
        "bpfman attach 1262 kprobe --fn-name try_to_wake_up",
        "bpfman attach 1273 raw_tracepoint --tracepoint sched_switch",
        "bpfman attach 1274 perf_event --event cpu-clock --frequency 99",
        "bpfman attach 1261 uprobe --target /usr/bin/bash \\\n"
        "    --fn-name readline --container-pid 4321",
    ), tour=False),
    Example("fentry, fexit, lsm and tp_btf programs name their hook at load; attach "
            "takes no options.", (
        "bpfman load file --path ./fentry.bpf.o \\\n"
        "    --programs fentry:test_fentry:do_unlinkat",
        "bpfman load file --path ./lsm.bpf.o \\\n"
        "    --programs lsm:deny_open:file_open",
        "bpfman attach 1270 fentry",
        "bpfman attach 1271 fexit",
        "bpfman attach 1272 lsm",
        "bpfman attach 1277 tp_btf",
    ), tour=False),
    Example("Pull an image for a later load, from a registry that needs a login.", (
        "bpfman image pull \\\n"
        "    --image-url quay.io/bpfman-bytecode/xdp_pass:latest \\\n"
        '    --registry-auth "$(printf user:password | base64)"',
    ), tour=False),
    Example("The native code of a program, and a store rebuilt from bpffs after its "
            "loss.", (
        "bpfman dump jited 1807 --opcodes",
        "bpfman system recover --adopt",
    ), tour=False),
    Example("The version and what bpfman runs on, for a bug report.", (
        "bpfman version -o json",
    ), tour=False),
    Example("The plugins installed: each type's package, version and entry point, and "
            "what is wrong with a broken one.", (
        "bpfman system plugins",
    ), tour=False),
)  # fmt: skip
BPFMAN_MORE = (
    "bpfman.socket starts bpfman.service (bpfman system service) on the first "
    "connection; bpfman-restore.service applies /etc/bpfman/programs.d at boot; "
    "bpfman-metrics.service serves the metrics. See systemctl(1), and docs/service.md in bpfman's source."
)


def manual() -> Manual:
    """bpfman's pages (its ``bpfman.manuals`` entry point)."""
    from .main import cli

    return Manual("bpfman", cli, BPFMAN_ENVIRONMENT, BPFMAN_FILES, BPFMAN_EXAMPLES,
                  ("bpfctl(1)", "bpftool(8)", "bpftool-prog(8)"), BPFMAN_MORE)  # fmt: skip
