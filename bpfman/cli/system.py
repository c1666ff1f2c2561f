"""``bpfman system``: bpfman itself rather than one program.

The service, recovery, plugins, run statistics and metrics. Imported only when
``system`` is used; each command imports its own stack (gRPC, prometheus)
only when it runs.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from .app import App
from .options import BpfmanCommand, BpfmanGroup, output_option

SOCKET_HELP = "Optional: Unix socket to serve on [default: /run/bpfman-sock/bpfman.sock]."
TIMEOUT_HELP = (
    "Optional: Exit after this many seconds without a request; 0 runs forever [default: 15]."
)
CSI_HELP = "Optional: Also serve the CSI node plugin csi.bpfman.io (pods' map volumes)."
CSI_SOCKET_HELP = (
    "Optional: Unix socket of the CSI node plugin [default: ROOT/csi/csi.sock,\n"
    "/run/bpfman/csi/csi.sock with the default root]."
)
MAX_CONNECTIONS_HELP = (
    "Optional: Connections open at once; at the limit a new one takes the place of the one\n"
    "idle longest (3 fds each; fewer if the fd limit cannot hold them) [default: 256]."
)
IDLE_HELP = (
    "Optional: Close a connection with no call in flight after this many seconds without\n"
    "traffic (clients reconnect on their next call); 0 never does [default: 60]."
)
METRICS_HELP = (
    "Optional: Also serve Prometheus metrics at http://HOST:PORT/metrics from the service.\n"
    "Example: --metrics-address 127.0.0.1:9464"
)


def service_options(fn: Any) -> Any:
    """The options shared by ``bpfman system service`` and ``bpfman-rpc``."""
    for decorator in reversed(
        [
            click.option("--socket-path", type=Path, help=SOCKET_HELP),
            click.option("--timeout", type=click.IntRange(min=0), default=15, help=TIMEOUT_HELP),
            click.option("--csi-support", is_flag=True, help=CSI_HELP),
            click.option("--csi-socket-path", type=Path, help=CSI_SOCKET_HELP),
            click.option(
                "--max-connections",
                type=click.IntRange(min=1),
                default=256,
                help=MAX_CONNECTIONS_HELP,
            ),
            click.option(
                "--connection-idle-timeout", type=click.IntRange(min=0), default=60, help=IDLE_HELP
            ),
            click.option("--metrics-address", callback=_address, help=METRICS_HELP),
            click.option("-v", "--verbose", is_flag=True, help="Log debug messages."),
        ]
    ):
        fn = decorator(fn)
    return fn


def _address(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    return None if value is None else _listen(value, param.opts[-1])


def _listen(value: str, option: str = "--listen") -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or int(port) > 65535:
        raise click.BadParameter(f"{value!r} is not HOST:PORT", param_hint=option)
    return host.strip("[]"), int(port)


def run_service(
    root: Path | None,
    socket_path: Path | None,
    timeout: int,
    csi_support: bool,
    max_connections: int,
    connection_idle_timeout: int,
    metrics_address: tuple[str, int] | None,
    verbose: bool,
    csi_socket_path: Path | None,
) -> None:
    import logging
    import os

    from ..privilege import require_privilege

    fmt = "%(levelname)s %(name)s: %(message)s"
    if not os.environ.get("JOURNAL_STREAM"):  # journald stamps lines itself
        fmt = "%(asctime)s " + fmt
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO, format=fmt, force=True)
    require_privilege()
    from ..service.server import DEFAULT_SOCKET, serve
    from ..serving.relay import Limits

    limits = Limits(max_connections, connection_idle_timeout)
    serve(
        socket_path or DEFAULT_SOCKET, timeout, csi_support, root, verbose, metrics_address,
        csi_socket_path, limits,
    )  # fmt: skip


LISTEN_HELP = """Optional: Address to serve Prometheus metrics on, at /metrics.
Port 0 picks a free port (printed at start).
Example: --listen 127.0.0.1:9464"""


pass_app = click.make_pass_decorator(App)


@click.group("system", cls=BpfmanGroup)
def system() -> None:
    """bpfman itself: the service, recovery, plugins, run statistics, metrics."""


@system.command(cls=BpfmanCommand)
@click.option(
    "--adopt",
    "mode",
    flag_value="adopt",
    help="Optional: When the state store is lost or corrupt, record every program and\n"
    "link that bpffs still holds, as if bpfman had just loaded them.",
)
@click.option(
    "--remove",
    "mode",
    flag_value="remove",
    help="Optional: When the state store is lost or corrupt, detach and unload everything\n"
    "that bpffs holds.",
)
@pass_app
def recover(app: App, mode: str | None) -> None:
    """Finish interrupted operations, reconcile the state with the kernel, or rebuild a lost store."""
    for line in app.bpfman.recover(mode):
        click.echo(line)


@system.command("service", cls=BpfmanCommand)
@service_options
@click.pass_context
def service(ctx: click.Context, /, **options: Any) -> None:
    """Serve the bpfman.v1 gRPC API on a Unix socket."""
    app = ctx.find_object(App)
    run_service(app.root if app else None, **options)


@system.command("plugins", cls=BpfmanCommand)
@click.option(
    "--check",
    is_flag=True,
    help="Optional: Exit with status 1 when a plugin is broken (all are listed all the same).",
)
@output_option
@pass_app
def plugins(app: App, check: bool, output: str) -> None:
    """List the installed program type plugins: type, package, version, entry point.

    Each plugin is loaded as a command would load it. A broken one (it fails
    to import, declares no type of its name, shares its name or a type with
    another plugin) is listed with its error; the exit status is still 0
    unless --check is given.
    """
    from bpfman.core.survey import survey
    from bpfman.errors import PluginError

    from .output import table

    app.output = output
    found = survey()
    headers = ["Type", "Package", "Version", "Entry Point"]
    rows = [[p.name, p.package, p.version, p.entry_point] for p in found]
    broken = [p for p in found if p.error]
    if broken:
        headers.append("Error")
        rows = [[*row, p.error or ""] for row, p in zip(rows, found, strict=True)]
    data = [
        {
            "type": p.name,
            "package": p.package,
            "version": p.version,
            "entry_point": p.entry_point,
            "types": list(p.types),
            "error": p.error,
        }
        for p in found
    ]
    app.emit(table(headers, rows), data)
    if check and broken:
        raise PluginError(f"{len(broken)} of {len(found)} plugins are broken")


@system.command("stats", cls=BpfmanCommand)
@click.option(
    "--enable",
    is_flag=True,
    help="Optional: Turn the kernel's BPF run statistics on while this command\n"
    "runs (BPF_ENABLE_STATS), until --duration ends or Ctrl-C.",
)
@click.option(
    "--duration",
    type=click.IntRange(1, 0xFFFFFFFF),
    help="Optional: With --enable, seconds to keep statistics on.",
)
@output_option
@pass_app
def stats(app: App, enable: bool, duration: int | None, output: str) -> None:
    """Show or turn on the kernel's run statistics of BPF programs (Run Count, Run Time).

    The kernel counts runs and run time only while statistics are on: while
    the sysctl kernel.bpf_stats_enabled is 1, or while a process holds them
    on, as `bpfman system stats --enable` does. Counting costs a little time
    on every program run.
    """
    from bpfman.kernel.stats import enable_stats, stats_sysctl
    from bpfman.toolbox.hold import hold

    app.output = output
    if duration is not None and not enable:
        raise click.UsageError("--duration needs --enable")
    if not enable:
        state = stats_sysctl()
        text = "unknown (no such sysctl)" if state is None else str(int(state))
        app.emit(
            f"kernel.bpf_stats_enabled = {text}\n"
            "Processes holding statistics on (bpfman system stats --enable) do not show here.",
            {"bpf_stats_enabled": state},
        )
        return
    until = f"for {duration} s" if duration else "until Ctrl-C"

    def announce() -> None:
        app.emit(f"BPF run statistics are on {until}", {"enabled": True, "duration": duration})
        sys.stdout.flush()  # whoever started us may wait for this line

    with enable_stats():
        hold(duration, announce)


@system.command("metrics", cls=BpfmanCommand)
@click.option("--listen", default="127.0.0.1:9464", show_default=True, help=LISTEN_HELP)
@pass_app
def metrics(app: App, listen: str) -> None:
    """Serve Prometheus metrics of bpfman's programs, links and maps until Ctrl-C."""
    from bpfman.toolbox.hold import hold
    from bpfman.toolbox.metrics import serve

    host, port = _listen(listen)
    server = serve(app.bpfman, host, port)
    url = f"http://{listen.rpartition(':')[0]}:{server.server_address[1]}/metrics"
    try:
        hold(None, lambda: print(f"Serving Prometheus metrics at {url}", flush=True))
    finally:
        server.shutdown()
        server.server_close()


# -- declared state: save and apply (bpfman/declare, docs/declarations.md) ------------
#: ``apply --check``'s status when the host differs (0: it matches; errors keep theirs).
DIFFERS = 10


@system.command("save", cls=BpfmanCommand)
@click.option(
    "-o",
    "--output-file",
    type=Path,
    help="Optional: Write the declaration to this file (replaced whole) instead of\n"
    "standard output.\n"
    "Example: -o /etc/bpfman/programs.d/host.toml",
)
@pass_app
def save(app: App, output_file: Path | None) -> None:
    """Write what bpfman runs as a declaration (TOML) that `bpfman system apply` restores.

    Programs with their source (file and sha256, or image and digest),
    globals, metadata and map sharing; links with their attach options.
    Kernel ids never appear: they do not survive a reboot.
    """
    text = app.bpfman.save().dumps()
    if output_file is None:
        click.echo(text, nl=False)
        return
    _replace(output_file, text)


def _replace(path: Path, text: str) -> None:
    """Write ``path`` whole or not at all (a temporary file renamed over it)."""
    import os
    import tempfile

    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or Path("."))
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


@system.command("apply", cls=BpfmanCommand)
@click.argument("files", nargs=-1, required=True, type=Path)
@click.option(
    "--check",
    is_flag=True,
    help="Optional: Print the plan and change nothing. Exit status 0: the host matches;\n"
    f"{DIFFERS}: it differs; any other: an error.",
)
@click.option(
    "--prune",
    is_flag=True,
    help="Optional: Also unload the managed programs the declarations do not name\n"
    "(without it they stay, and are reported).",
)
@pass_app
def apply(app: App, files: tuple[Path, ...], check: bool, prune: bool) -> None:
    """Make the host run what the declarations say: load, attach, detach (and unload).

    FILES are declarations (TOML, as `bpfman system save` writes) or folders of
    *.toml files, merged; a name declared twice is an error. What already
    matches is left alone, so applying twice changes nothing. All or nothing:
    if a step fails, what this apply did is undone and one line names the entry.
    """
    applied = app.bpfman.apply(*files, check=check, prune=prune)
    kept = [a for a in applied.plan.actions if a.verb == "keep"]
    for action in applied.plan.actions if check else (*applied.done, *kept):
        click.echo(str(action))
    if applied.plan.matches:
        click.echo("nothing to do: the host matches the declaration")
    elif check:
        click.get_current_context().exit(DIFFERS)
